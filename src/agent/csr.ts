/**
 * The agent's PKCS#10 CSR (RFC 2986) for its ed25519 host key: subject `CN=<hostname>`, no
 * attributes, signed with the key (enrollment and renewal, protocol §7.1, §7.4).
 *
 * Why not `src/pki/csr.ts`: that module loads @peculiar/x509 and its ASN.1 stack, which would
 * stay resident in the daemon after the first enrollment or renewal (~5 MB of a 40 MB budget).
 * The agent needs exactly one fixed DER shape, so it is encoded here in a few lines, and the
 * tests prove the output is byte-for-byte what the library produces (ed25519 signatures are
 * deterministic) and that the CP-side parser verifies it.
 * Invariant: the CN is encoded as PrintableString when it fits that alphabet, else UTF8String,
 * as the library does.
 */
import { ed25519PublicKey, ed25519Sign } from '../crypto/ed25519.ts'
import { ed25519Spki, toPem } from '../crypto/keys.ts'
import { concatBytes, fromHex, utf8 } from '../lib/bytes.ts'

// DER of OBJECT IDENTIFIER 2.5.4.3 (commonName) and of AlgorithmIdentifier { 1.3.101.112 }.
const OID_CN = fromHex('0603550403')!
const ALG_ED25519 = fromHex('300506032b6570')!
// PrintableString's alphabet (X.680 §41.4).
const PRINTABLE_RE = /^[A-Za-z0-9 '()+,\-./:=?]*$/

/** One DER TLV with a definite length. */
function tlv(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length
  const len =
    n < 0x80
      ? Uint8Array.of(n)
      : n < 0x100
        ? Uint8Array.of(0x81, n)
        : Uint8Array.of(0x82, n >> 8, n & 0xff)
  return concatBytes(Uint8Array.of(tag), len, body)
}

/** The PEM CSR of the ed25519 key `seed` with subject `CN=<commonName>`. */
export function hostCsrPem(seed: Uint8Array, commonName: string): string {
  if (seed.length !== 32) throw new Error('ed25519 seed must be 32 bytes')
  if (commonName.length === 0 || commonName.length > 64)
    throw new Error('CSR common name must be 1 to 64 characters')
  const cn = tlv(PRINTABLE_RE.test(commonName) ? 0x13 : 0x0c, utf8(commonName))
  const name = tlv(0x30, tlv(0x31, tlv(0x30, concatBytes(OID_CN, cn))))
  const info = tlv(
    0x30,
    concatBytes(
      Uint8Array.of(0x02, 0x01, 0x00), // version 0
      name,
      ed25519Spki(ed25519PublicKey(seed)),
      Uint8Array.of(0xa0, 0x00) // attributes: [0] empty SET
    )
  )
  const signature = ed25519Sign(info, seed)
  const der = tlv(
    0x30,
    concatBytes(info, ALG_ED25519, tlv(0x03, concatBytes(Uint8Array.of(0x00), signature)))
  )
  return toPem('CERTIFICATE REQUEST', der)
}

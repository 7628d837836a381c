/** SQL migration files are embedded in the binary as text (`import x from './f.sql' with { type: 'text' }`). */
declare module '*.sql' {
  const text: string
  export default text
}

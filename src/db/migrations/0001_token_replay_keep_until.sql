ALTER TABLE `token_replay` ADD `keep_until` text;

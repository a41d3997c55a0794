-- Tokens that expire (issue 13 item 12): a token handed to a terminal, a
-- contractor or a demo stops working at expires_at without anyone revoking
-- it. NULL: never expires (every token issued before this).
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS expires_at timestamptz;

-- Signing keys live in a key file or the environment, never in a table: a
-- backup of the data must not be able to mint tokens. The secret that earlier
-- versions kept here is dropped (its access tokens, 15 minutes long, lapse;
-- phones refresh with their refresh tokens, which stay valid).
DELETE FROM settings WHERE key = 'jwt_secret';

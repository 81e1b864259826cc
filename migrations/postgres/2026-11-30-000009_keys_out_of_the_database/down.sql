-- The dropped secret is not restored: it is no longer trusted.
SELECT 1;

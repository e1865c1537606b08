// The single audit chain's function as the release before lanes (schema 6) created it, verbatim
// from service/audit/append-to-chain.ts at commit baab98a^ (createChainHeadFunction, its HEAD
// subquery written out): what that release runs against a database, for the tests that put a
// database back to schema 6 or play that release against schema 7.
export const SCHEMA6_CHAIN_HEAD_FUNCTION = `CREATE OR REPLACE FUNCTION dta_audit_chain_head(lock_key bigint, OUT next_id bigint, OUT head_id bigint, OUT head_hash text, OUT head_action text)
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      PERFORM pg_advisory_xact_lock(lock_key);
      next_id := nextval(pg_get_serial_sequence('audit', 'id'));
      SELECT h.id, h.hash, h.action INTO head_id, head_hash, head_action FROM (SELECT id, hash, action FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1) AS h;
    END;
    $$`;

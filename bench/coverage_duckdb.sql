-- DESIGN section 5, steps 1-7, in DuckDB SQL: the peer bench/coverage.py times `collateral coverage --from` against.
--
-- bench/coverage_duckdb.py runs it as a process of its own. Before this text it creates:
--   views loans_file, assets_file, policies_file, valuations_file, liens_file, lien_loans_file (read_parquet of the
--   book folder, the DESIGN 8 columns, typed or as strings), a table digits(currency, milli = 1000 / 10^minor digits),
--   a table fx(value_currency, currency, fx_num, fx_den) (units of the loan currency per unit of the valuation
--   currency as an exact fraction in minor units, as valuation/coverage/fx.py makes it), and the variables as_of
--   (DATE) and include_unperfected (BOOLEAN).
-- After it, it writes `SELECT * FROM per_loan ORDER BY loan_id` to Parquet.
--
-- Money is HUGEINT minor units; ratios are integers scaled by 10^12 (the engine's SCALE); every split of an amount
-- is the largest-remainder method of DESIGN 7 (floors, then one unit each to the largest remainders, ties to the
-- smaller ref), so the integer columns must equal the engine's exactly.

-- Amounts to minor units through thousandths in BIGINT (every currency of registry.money has at most 3 minor digits;
-- DuckDB's 38-digit decimals are HUGEINT inside and about ten times slower).
CREATE OR REPLACE TEMP MACRO units(amount, milli) AS CAST(CAST(amount AS DECIMAL(18, 3)) * 1000 AS BIGINT) // milli;
CREATE OR REPLACE TEMP MACRO scaled(ratio) AS CAST(CAST(ratio AS DECIMAL(38, 12)) * 1000000000000 AS HUGEINT);

-- Step 1: exposure = principal + interest + penalty + fees; settled and written-off loans leave the report.
CREATE OR REPLACE TEMP TABLE loan AS
SELECT l.loan_id, l.borrower_id, l.currency,
       l.status NOT IN ('settled', 'written_off') AS live,
       coalesce(units(l.principal, d.milli), 0) + coalesce(units(l.interest, d.milli), 0)
         + coalesce(units(l.penalty, d.milli), 0) + coalesce(units(l.fees, d.milli), 0) AS exposure
FROM loans_file l JOIN digits d ON d.currency = l.currency;

CREATE OR REPLACE TEMP TABLE policy AS
SELECT kind, scaled(haircut) AS haircut_scaled, CAST(revaluation_days AS BIGINT) AS revaluation_days,
       scaled(max_ltv) AS max_ltv_scaled
FROM policies_file;

-- Step 2: the latest approved valuation on or before as_of (the lower market value of two on that day), less the
-- haircut of the asset's kind; none -> 0 and flagged.
CREATE OR REPLACE TEMP TABLE asset AS
WITH approved AS (
    SELECT v.asset_id, CAST(v.valued_on AS DATE) AS valued_on, units(v.market_value, d.milli) AS market_value,
           v.currency
    FROM valuations_file v JOIN digits d ON d.currency = v.currency
    WHERE v.status = 'approved' AND CAST(v.valued_on AS DATE) <= getvariable('as_of')
), latest AS (  -- newest day first, then the lower value: one key, largest wins
    SELECT asset_id, arg_max(valued_on, pick) AS day, arg_max(market_value, pick) AS mv,
           arg_max(currency, pick) AS cur
    FROM (SELECT *, CAST(epoch(valued_on) // 86400 AS HUGEINT) * 100000000000000000000 - market_value AS pick
          FROM approved)
    GROUP BY asset_id
)
SELECT a.asset_id,
       coalesce(l.mv * (1000000000000 - p.haircut_scaled) // 1000000000000, 0) AS value,
       l.cur AS value_currency,
       p.max_ltv_scaled,
       l.mv IS NULL AS no_valuation,
       coalesce(getvariable('as_of') - l.day > p.revaluation_days, false) AS stale_valuation
FROM assets_file a LEFT JOIN latest l ON l.asset_id = a.asset_id LEFT JOIN policy p ON p.kind = a.kind;

-- Steps 3 and 4: live liens ranked per asset (registered ones by perfected_at, equal times share a rank; every other
-- live lien shares the rank after them: NULLS LAST peers), the counted ones kept, each with its claim: own ->
-- min(cap, exposure of its live loans), cap null = unlimited; other creditor -> external_claim. A lien's currency is
-- its loans' (CNY when it has none).
CREATE OR REPLACE TEMP TABLE lien AS
WITH secured AS (
    SELECT ll.lien_id, min(l.currency) AS currency, sum(l.exposure) FILTER (WHERE l.live) AS secured
    FROM lien_loans_file ll JOIN loan l ON l.loan_id = ll.loan_id
    GROUP BY ll.lien_id
), alive AS (
    SELECT f.lien_id, f.asset_id, f.holder, f.status, f.cap, f.external_claim,
           dense_rank() OVER (
               PARTITION BY f.asset_id
               ORDER BY CASE WHEN f.status = 'registered' THEN CAST(f.perfected_at AS TIMESTAMPTZ) END NULLS LAST
           ) AS rank
    FROM liens_file f  -- a lien on an asset not in the book is dropped by the join to asset below
    WHERE f.status NOT IN ('released', 'rejected', 'expired')
), counted AS (
    SELECT a.lien_id, a.asset_id, a.rank, a.holder = 'own' AS own, coalesce(s.currency, 'CNY') AS currency,
           coalesce(s.secured, 0) AS secured, a.cap, a.external_claim
    FROM alive a LEFT JOIN secured s ON s.lien_id = a.lien_id
    WHERE a.status = 'registered' OR (getvariable('include_unperfected') AND a.status = 'submitted')
), claimed AS (
    SELECT c.lien_id, c.asset_id, c.rank, c.own, c.currency, c.secured,
           CASE WHEN c.own THEN
                CASE WHEN c.cap IS NULL THEN c.secured ELSE least(units(c.cap, d.milli), c.secured) END
           ELSE coalesce(units(c.external_claim, d.milli), 0) END AS claim,
           CASE WHEN c.own THEN units(c.cap, d.milli) END AS cap_units
    FROM counted c JOIN digits d ON d.currency = c.currency
)
SELECT c.*, s.value, s.value_currency, s.max_ltv_scaled, s.no_valuation, s.stale_valuation,
       coalesce(x.fx_num, 1) AS fx_num, coalesce(x.fx_den, 1) AS fx_den,
       -- the claim in the valuation currency, rounded up
       (c.claim * coalesce(x.fx_den, 1) + coalesce(x.fx_num, 1) - 1) // coalesce(x.fx_num, 1) AS claim_v
FROM claimed c JOIN asset s ON s.asset_id = c.asset_id
LEFT JOIN fx x ON x.value_currency = s.value_currency AND x.currency = c.currency;

-- Step 5: per asset in rank order, R = value; a rank takes min(R, its claims) (R = value less the claims of earlier
-- ranks, never below 0), split among its liens pro rata to claim; then back into the lien's currency (rounded
-- down) and never above the claim.
CREATE OR REPLACE TEMP TABLE rank_take AS
WITH ranks AS (
    SELECT asset_id, rank, sum(claim_v) AS rank_claim, any_value(value) AS value, count(*) AS liens
    FROM lien GROUP BY asset_id, rank
), ordered AS (
    SELECT *, coalesce(sum(rank_claim) OVER (
               PARTITION BY asset_id ORDER BY rank ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM ranks
)
SELECT asset_id, rank, rank_claim, liens, least(greatest(value - before, 0), rank_claim) AS takes,
       -- what the rank leaves on the asset after its claims (a rank with no claim reaches nothing)
       CASE WHEN rank_claim > 0 THEN greatest(value - before, 0) - least(greatest(value - before, 0), rank_claim)
            ELSE 0 END AS surplus
FROM ordered;

-- Beside each lien's share, its surplus (docs/decisions.md, "LTV against reachable value"): what its rank leaves on
-- the asset, split within the rank pro rata to claim like the shares, into the lien's currency, within its cap
-- (cap less share; none for a lien with no claim).
CREATE OR REPLACE TEMP TABLE lien_share AS
WITH single AS (  -- a rank of one lien: it takes the rank's amount and keeps its surplus
    SELECT l.*, r.takes AS share_v, r.surplus AS reach_v
    FROM lien l JOIN rank_take r USING (asset_id, rank) WHERE r.liens = 1
), floors AS (
    SELECT l.*, r.takes, r.surplus,
           r.takes * l.claim_v // r.rank_claim AS fl, r.takes * l.claim_v % r.rank_claim AS rem,
           r.surplus * l.claim_v // r.rank_claim AS reach_fl, r.surplus * l.claim_v % r.rank_claim AS reach_rem
    FROM lien l JOIN rank_take r USING (asset_id, rank) WHERE r.liens > 1 AND r.rank_claim > 0
), shared AS (
    SELECT *, fl + CASE WHEN row_number() OVER (PARTITION BY asset_id, rank ORDER BY rem DESC, lien_id)
                              <= takes - sum(fl) OVER (PARTITION BY asset_id, rank) THEN 1 ELSE 0 END AS share_v,
              reach_fl + CASE WHEN row_number() OVER (PARTITION BY asset_id, rank ORDER BY reach_rem DESC, lien_id)
                              <= surplus - sum(reach_fl) OVER (PARTITION BY asset_id, rank) THEN 1 ELSE 0 END
                       AS reach_v
    FROM floors
), zero AS (  -- a rank whose claims are all 0 takes nothing and has no surplus
    SELECT l.*, 0::HUGEINT AS share_v, 0::HUGEINT AS reach_v
    FROM lien l JOIN rank_take r USING (asset_id, rank) WHERE r.liens > 1 AND r.rank_claim = 0
), every AS (
    SELECT lien_id, own, max_ltv_scaled, no_valuation, stale_valuation, claim, cap_units, fx_num, fx_den, share_v,
           reach_v FROM single
    UNION ALL
    SELECT lien_id, own, max_ltv_scaled, no_valuation, stale_valuation, claim, cap_units, fx_num, fx_den, share_v,
           reach_v FROM shared
    UNION ALL
    SELECT lien_id, own, max_ltv_scaled, no_valuation, stale_valuation, claim, cap_units, fx_num, fx_den, share_v,
           reach_v FROM zero
)
SELECT lien_id, max_ltv_scaled, no_valuation, stale_valuation, share,
       CASE WHEN claim = 0 THEN 0 WHEN cap_units IS NULL THEN reach_v * fx_num // fx_den
            ELSE least(reach_v * fx_num // fx_den, cap_units - share) END AS reach
FROM (SELECT *, least(share_v * fx_num // fx_den, claim) AS share FROM every WHERE own);

-- Step 6: an own lien's share, and apart from it its surplus, split among its live loans pro rata to exposure, ties
-- to the smaller loan_id; a loan reaches its share and its surplus.
CREATE OR REPLACE TEMP TABLE loan_share AS
WITH rows AS (
    SELECT s.lien_id, s.share, s.reach, s.max_ltv_scaled, s.no_valuation, s.stale_valuation, l.loan_id, l.exposure,
           count(*) OVER (PARTITION BY s.lien_id) AS loans,
           sum(l.exposure) OVER (PARTITION BY s.lien_id) AS total
    FROM lien_share s JOIN lien_loans_file ll ON ll.lien_id = s.lien_id JOIN loan l ON l.loan_id = ll.loan_id
    WHERE l.live
), floors AS (
    SELECT *, CASE WHEN total > 0 THEN share * exposure // total ELSE 0 END AS fl,
              CASE WHEN total > 0 THEN share * exposure % total ELSE 0 END AS rem,
              CASE WHEN total > 0 THEN reach * exposure // total ELSE 0 END AS reach_fl,
              CASE WHEN total > 0 THEN reach * exposure % total ELSE 0 END AS reach_rem
    FROM rows WHERE loans > 1
)
SELECT loan_id, share AS loan_share, share + reach AS loan_reach, max_ltv_scaled, no_valuation, stale_valuation
FROM rows WHERE loans = 1
UNION ALL
SELECT loan_id, loan_share, loan_share + loan_surplus, max_ltv_scaled, no_valuation, stale_valuation
FROM (
    SELECT *,
           fl + CASE WHEN row_number() OVER (PARTITION BY lien_id ORDER BY rem DESC, loan_id)
                          <= share - sum(fl) OVER (PARTITION BY lien_id) THEN 1 ELSE 0 END AS loan_share,
           reach_fl + CASE WHEN row_number() OVER (PARTITION BY lien_id ORDER BY reach_rem DESC, loan_id)
                          <= reach - sum(reach_fl) OVER (PARTITION BY lien_id) THEN 1 ELSE 0 END AS loan_surplus
    FROM floors
);

-- Step 7: per live loan; LTV against the reachable value (share and surplus), as are max_ltv and the breach.
CREATE OR REPLACE TEMP VIEW per_loan AS
WITH by_loan AS (
    SELECT loan_id, sum(loan_share) AS collateral_value, sum(loan_reach) AS reachable_value,
           sum(loan_reach * max_ltv_scaled) AS weighted,
           bool_or(stale_valuation) AS stale_valuation, bool_or(no_valuation) AS no_valuation
    FROM loan_share GROUP BY loan_id
), unperfected AS (
    SELECT DISTINCT ll.loan_id
    FROM liens_file f JOIN lien_loans_file ll ON ll.lien_id = f.lien_id SEMI JOIN assets_file a ON a.asset_id = f.asset_id
    WHERE f.holder = 'own' AND f.status NOT IN ('registered', 'released')
), joined AS (
    SELECT l.loan_id, l.borrower_id, l.currency, l.exposure, coalesce(b.collateral_value, 0) AS cv,
           coalesce(b.reachable_value, 0) AS rv,
           coalesce(b.weighted, 0) AS weighted, coalesce(b.stale_valuation, false) AS stale_valuation,
           coalesce(b.no_valuation, false) AS no_valuation, u.loan_id IS NOT NULL AS unperfected
    FROM loan l LEFT JOIN by_loan b ON b.loan_id = l.loan_id LEFT JOIN unperfected u ON u.loan_id = l.loan_id
    WHERE l.live
)
SELECT loan_id, borrower_id, currency,
       CAST(exposure AS BIGINT) AS exposure,
       CAST(cv AS BIGINT) AS collateral_value,
       CAST(least(exposure, cv) AS BIGINT) AS covered,
       CAST(exposure - least(exposure, cv) AS BIGINT) AS uncovered,
       CAST(rv AS BIGINT) AS reachable_value,
       CASE WHEN exposure > 0 THEN round(cv / exposure, 6) END AS coverage_ratio,
       CASE WHEN rv > 0 THEN round(exposure / rv, 6) END AS ltv,
       CASE WHEN rv > 0 THEN round(weighted / 1e12 / rv, 6) END AS max_ltv,
       exposure > 0 AND (rv = 0 OR CAST(exposure AS HUGEINT) * 1000000000000 > weighted) AS breach,
       stale_valuation, no_valuation, unperfected
FROM joined;

-- wrk script: POST the body the enom client sends (ENOM_BENCH_BODY), as
-- a form, on every request.
-- luacheck: globals wrk
wrk.method = "POST"
wrk.body = os.getenv("ENOM_BENCH_BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

wrk.method = "POST"
wrk.body = '{"document":"bench.pdf"}'
wrk.headers["Content-Type"] = "application/json"

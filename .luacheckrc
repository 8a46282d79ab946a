std = "max"
max_line_length = 140
exclude_files = { "build/", ".rocks/" }
files["spec/"] = { std = "+busted" }
files["lua/enom/transport/ngx.lua"] = { globals = { "ngx" } }
files["lua/enom/transport/ngx_threads.lua"] = { read_globals = { "ngx" } }
files["lua/enom/client.lua"] = { read_globals = { "ngx" } }
files["lua/enom/clock.lua"] = { read_globals = { "ngx" } }
files["sandbox/"] = { std = "ngx_lua" }
files["examples/nginx/"] = { std = "ngx_lua" }
files["examples/panel/"] = { std = "ngx_lua" }

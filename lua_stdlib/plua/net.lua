-- plua.net: the original's module name for the `net` library (`require("plua.net")`).
return require("net")

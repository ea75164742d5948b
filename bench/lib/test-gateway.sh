# Sourced by bench/setup-instructions and bench/idle-heap: cgw-bench's rfb
# backend as the console of one domain of libvirt's test driver, a token key,
# and a free port for console-gw. Expects $bench and $work; sets
# backend_port, uuid, port and pids (the caller's cleanup kills them).
start_rfb_backend() {
  "$bench" backend --port 0 --mode rfb --lifetime 600 >"$work/backend.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do grep -q port= "$work/backend.out" 2>/dev/null && break; sleep 0.1; done
  backend_port=$(sed -n 's/.*port=//p' "$work/backend.out")
  uuid=6dd411c6-8710-48b0-bea0-e273ebd176c6
  echo "<node><domain type='test'><name>cg</name><uuid>$uuid</uuid><memory>65536</memory>" \
    "<os><type>hvm</type></os><devices><graphics type='vnc' port='$backend_port'" \
    "listen='127.0.0.1'/></devices></domain></node>" >"$work/node.xml"
  head -c 32 /dev/urandom | base64 >"$work/token.key"
  chmod 600 "$work/token.key"
  port=$("$bench" port)
}

# A console URL with a fresh token, once console-gw listens on $port (waits
# up to $1 tenths of a second; callgrind starts slowly).
console_url() {
  for _ in $(seq "${1:-100}"); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  local token
  token=$("$gw" token --host bench --uuid $uuid --ttl 10m --signing-key "$work/token.key")
  echo "ws://127.0.0.1:$port/websockify?token=$token"
}

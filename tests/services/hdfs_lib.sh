# tests/services/hdfs_lib.sh — helpers shared by the HDFS service scripts (hdfs.sh, hdfs_ha.sh,
# hdfs_secure.sh); sourced, never run.

# free_ports N: N free TCP ports on 127.0.0.1, chosen by the kernel (all held open while chosen,
# so they are distinct).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# prop NAME VALUE: one <property> of a Hadoop *-site.xml.
prop() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"; }

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

# hadoop_home: sets VER (the Hadoop version of scripts/hadoop/pom.xml) and HOME_H (the directory
# of that exact pom's jars: scripts/setup.d/hadoop.sh names it the same way). Needs REPO, ECOM_CACHE.
hadoop_home() {
  local pom=$REPO/scripts/hadoop/pom.xml
  VER=$(sed -n 's:.*<hadoop.version>\(.*\)</hadoop.version>.*:\1:p' "$pom")
  HOME_H=$ECOM_CACHE/hadoop/$VER-$(sha1sum "$pom" | cut -c1-12)
}

# hadoop_jopts HEAP: sets JOPTS, the daemons' JVM options (a caller may append more). Hadoop 3.4
# on Java 17: Jersey 1 (WebHDFS) defines classes through ClassLoader.defineClass by reflection,
# which Java 17 refuses unless java.lang is opened to the class path.
hadoop_jopts() {
  JOPTS=(-Xmx"$1" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 --add-opens=java.base/java.lang=ALL-UNNAMED
         --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
         --add-opens=java.base/sun.nio.ch=ALL-UNNAMED)
}

# write_log4j FILE: a log4j.properties sending INFO and up to stderr (the daemon's log file).
write_log4j() {
  cat >"$1" <<'EOF'
log4j.rootLogger=${hadoop.root.logger}
hadoop.root.logger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
EOF
}

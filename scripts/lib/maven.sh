# scripts/lib/maven.sh — sourced by scripts/setup.d/{kafka,hadoop}.sh: fetch the runtime jars a
# pinned pom names from Maven Central into a cache directory, atomically (a half-fetched
# directory never takes the final name). The callers keep their own stamp files (so that a
# cache filled before this file existed stays valid).
#
#   maven_fetch WHAT POM DEST CHECK_JAR [PREPARE_FN]
#     WHAT       what to say in messages ("Apache Kafka 4.1.1")
#     POM        the pom whose runtime dependencies are fetched
#     DEST       the final directory (replaced); jars land in DEST/libs
#     CHECK_JAR  a jar that must be in DEST/libs afterwards (the pom's main artifact)
#     PREPARE_FN optional function called with the temporary directory before the fetch
maven_fetch() {
  local what=$1 pom=$2 dest=$3 check=$4 prepare=${5:-}
  command -v mvn >/dev/null || { echo "setup: mvn not found (scripts/setup.sh installs maven)" >&2; return 1; }
  command -v java >/dev/null || { echo "setup: java not found" >&2; return 1; }
  echo "setup: fetching $what jars into $dest" >&2
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp"
  [ -z "$prepare" ] || "$prepare" "$dest.tmp"
  local work
  work=$(mktemp -d)
  cp "$pom" "$work/pom.xml"
  if ! (cd "$work" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
          -DoutputDirectory="$dest.tmp/libs" >"$work/mvn.log" 2>&1); then
    tail -30 "$work/mvn.log" >&2
    rm -rf "$work"
    echo "setup: maven failed fetching $what" >&2
    return 1
  fi
  rm -rf "$work"
  [ -f "$dest.tmp/libs/$check" ] || { echo "setup: $check missing after fetching $what" >&2; return 1; }
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
}

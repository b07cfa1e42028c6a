# Sourced by .ci/run: the Java runtime Spark needs (pyspark brings Spark itself). Installs
# Debian's headless JRE when no `java` is on PATH; the Spark tests fail in CI without one.
if ! command -v java >/dev/null && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null) \
    || echo "could not install a Java runtime"
fi
if command -v java >/dev/null; then
  echo "Java ready: $(java -version 2>&1 | head -1)"
else
  echo "Java is not available on this machine; the Spark tests will fail in CI"
fi

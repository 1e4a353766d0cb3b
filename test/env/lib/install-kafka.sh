# Resolves the Kafka broker jars from Maven Central into $KAFKA_CACHE/libs. Sourced by install.
install_kafka() {
  local libs="$KAFKA_CACHE/libs"
  if [ -f "$libs/.complete" ]; then log "kafka jars cached"; return; fi
  rm -rf "$libs"; mkdir -p "$libs"
  log "resolving kafka_2.13 $KAFKA_VERSION jars with maven"
  mvn -B -q -f "$ENV_DIR/kafka/pom.xml" \
    -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs"
  ls "$libs"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka jar missing after maven resolve"
  touch "$libs/.complete"
}

# Redis comes from Debian's packages; the server binary is used as installed.
install_redis() {
  if command -v redis-server >/dev/null 2>&1; then log "redis-server present"; return; fi
  log "installing redis-server from Debian packages"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  command -v redis-server >/dev/null 2>&1 || die "redis-server not found after apt-get install"
}

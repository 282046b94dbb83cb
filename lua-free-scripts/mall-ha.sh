# The two-node HA layout (conf/ha/README.md): a Redis primary, one replica,
# three Sentinels, the workers, two edge nodes. Source it BEFORE
# mall-env.sh (it sets MALL_REDIS_SENTINELS and WAIT, which mall-env.sh
# turns into the edge's and the workers' config), then call
# mall_ha_render_all. POSIX sh. The single-node dev stack never reads it.

: "${MALL_REDIS_REPLICA_PORT:=6392}"
# three Sentinels: MALL_SENTINEL_PORT and the two ports after it
: "${MALL_SENTINEL_PORT:=26391}"
: "${MALL_EDGE2_PORT:=8090}"
: "${MALL_ADMIN2_PORT:=8091}"
: "${MALL_EDGE2_TLS_PORT:=8453}"
: "${MALL_SENTINEL_DOWN_AFTER_MS:=5000}"
: "${MALL_SENTINEL_FAILOVER_TIMEOUT_MS:=60000}"
: "${MALL_REDIS_SENTINELS:=127.0.0.1:$MALL_SENTINEL_PORT,127.0.0.1:$((MALL_SENTINEL_PORT + 1)),127.0.0.1:$((MALL_SENTINEL_PORT + 2))}"
: "${MALL_REDIS_WAIT_REPLICAS:=1}"
export MALL_REDIS_REPLICA_PORT MALL_SENTINEL_PORT MALL_EDGE2_PORT \
    MALL_ADMIN2_PORT MALL_EDGE2_TLS_PORT MALL_SENTINEL_DOWN_AFTER_MS \
    MALL_SENTINEL_FAILOVER_TIMEOUT_MS MALL_REDIS_SENTINELS \
    MALL_REDIS_WAIT_REPLICAS

# Everything of mall_render_all (edge 1, workers, primary), then the
# replica, the Sentinels (in sentinel-N/) and edge 2 (in edge2/: the same
# nginx.conf.tmpl on its own ports and runtime dir).
mall_ha_render_all() {
    mall_render_all || return 1
    mkdir -p "$MALL_RUN_DIR/redis-replica" &&
    mall_render "$MALL_ROOT/conf/ha/redis-replica.conf.tmpl" \
        "$MALL_RUN_DIR/redis-replica.conf" || return 1
    for MALL_SENTINEL_N in 1 2 3; do
        MALL_SENTINEL_N_PORT=$((MALL_SENTINEL_PORT + MALL_SENTINEL_N - 1))
        MALL_SENTINEL_N_DIR=$MALL_RUN_DIR/sentinel-$MALL_SENTINEL_N
        mkdir -p "$MALL_SENTINEL_N_DIR" &&
        mall_render "$MALL_ROOT/conf/ha/sentinel.conf.tmpl" \
            "$MALL_SENTINEL_N_DIR/sentinel.conf" || return 1
    done
    (
        MALL_RUN_DIR=$MALL_RUN_DIR/edge2
        MALL_EDGE_PORT=$MALL_EDGE2_PORT
        MALL_EDGE_TLS_PORT=$MALL_EDGE2_TLS_PORT
        MALL_ADMIN_PORT=$MALL_ADMIN2_PORT
        mkdir -p "$MALL_RUN_DIR/logs" "$MALL_RUN_DIR/tmp" \
            "$MALL_RUN_DIR/conf.d" &&
        mall_render "$MALL_ROOT/conf/nginx.conf.tmpl" \
            "$MALL_RUN_DIR/nginx.conf" &&
        cp "$MALL_ROOT/conf/mall-errors.conf" "$MALL_RUN_DIR/"
    )
}

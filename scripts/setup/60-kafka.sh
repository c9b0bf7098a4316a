# Sourced by scripts/test.sh: what the Kafka tests need.
# * tansu, a Kafka-compatible broker from crates.io (in-memory storage needs the `dynostore`
#   feature). Building it takes about 15 minutes, so it is installed only when missing; it
#   stays in ~/.cargo/bin between runs. Exports TANSU, the binary the tests start.
# * OpenSSL headers and pkg-config, which librdkafka (rdkafka-sys, built by cargo) links.
tansu_version="0.6.0"
tansu_bin="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
if ! "$tansu_bin" --version 2>/dev/null | grep -q "$tansu_version"; then
    echo "installing tansu $tansu_version (about 15 minutes, once per machine)"
    cargo install tansu --version "$tansu_version" --features dynostore --locked
fi
TANSU="$tansu_bin"
export TANSU
if ! pkg-config --exists openssl 2>/dev/null; then
    echo "installing libssl-dev and pkg-config for librdkafka"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get install -y --no-install-recommends libssl-dev pkg-config
fi

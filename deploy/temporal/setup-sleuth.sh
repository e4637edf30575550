#!/bin/sh
# One-shot, in temporalio/admin-tools (or anywhere the `temporal` CLI is): once the Temporal frontend
# answers, make sure Sleuth's namespace and custom search attributes exist.
#
# Idempotent: an existing namespace is kept, and only missing search attributes are created (an attribute
# that exists with another type is an error). The names and types mirror
# sleuth/workflows/search_attributes.py -- tests/test_compose.py keeps the two in step.
#
# Environment: TEMPORAL_ADDRESS (default temporal:7233), TEMPORAL_NAMESPACE (default "default"),
# TEMPORAL_NAMESPACE_RETENTION (default 7d, used only when the namespace is created), SETUP_TRIES (default 60
# attempts, 2 s apart, for each wait).
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-7d}"
ATTRIBUTES="SleuthMonitorId SleuthService SleuthEnv SleuthPhase SleuthVerdict SleuthRootCauseKind SleuthRootCauseService"
TYPE=Keyword
TYPE_ENUM=INDEXED_VALUE_TYPE_KEYWORD
TRIES="${SETUP_TRIES:-60}"

t() { temporal "$@" --address "$ADDRESS"; }

echo "sleuth setup: waiting for Temporal at $ADDRESS"
n=0
until t operator cluster health >/dev/null 2>&1; do
  n=$((n + 1))
  if [ "$n" -ge "$TRIES" ]; then
    echo "sleuth setup: Temporal at $ADDRESS is not serving after $n tries" >&2
    exit 1
  fi
  sleep 2
done

if t operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "sleuth setup: namespace '$NAMESPACE' exists"
else
  echo "sleuth setup: creating namespace '$NAMESPACE' (retention $RETENTION)"
  t operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
fi

# `search-attribute list -o json` prints {"customAttributes": {"Name": "INDEXED_VALUE_TYPE_KEYWORD", ...}, ...}
registered() {
  t operator search-attribute list --namespace "$NAMESPACE" --output json 2>/dev/null \
    | tr -d ' \n\t' | grep -q "\"$1\":\"$TYPE_ENUM\""
}

for name in $ATTRIBUTES; do
  n=0
  until registered "$name"; do
    n=$((n + 1))
    if [ "$n" -gt "$TRIES" ]; then
      echo "sleuth setup: could not register search attribute $name ($TYPE) in '$NAMESPACE'" \
        "(does it exist with another type?); the server says:" >&2
      t operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$TYPE" >&2 || true
      exit 1
    fi
    # A namespace created a moment ago can take a few seconds to be visible everywhere: retry.
    if t operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$TYPE" >/dev/null 2>&1; then
      echo "sleuth setup: search attribute $name ($TYPE) registered"
    else
      sleep 2
    fi
  done
done
echo "sleuth setup: namespace '$NAMESPACE' has all Sleuth search attributes: $ATTRIBUTES"

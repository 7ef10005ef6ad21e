#!/bin/bash
# The verifier of a selfgym shell task: tests/check.sh, run with bash -e in /work, decides.
# Reward 1 when it exits 0, else 0.

# git on a copy of the agent's repository with its objects, refs and index only: never with configuration,
# hooks or attributes the agent wrote (they can name programs for git to run), nor its replace refs
vgit() {
    local repo copy f
    repo=$(cd "$1" && pwd -P) || return 1
    shift
    copy="$SELFGYM_GIT_COPIES/$(printf '%s' "$repo" | md5sum | cut -c1-16)"
    if [ ! -d "$copy" ]; then
        git init -q "$copy" || return 1
        cp -r "$repo/.git/objects/." "$copy/.git/objects/" || return 1
        cp -r "$repo/.git/refs/." "$copy/.git/refs/" || return 1
        for f in HEAD packed-refs index; do
            if [ -f "$repo/.git/$f" ]; then cp "$repo/.git/$f" "$copy/.git/$f" || return 1; fi
        done
    fi
    GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_NO_REPLACE_OBJECTS=1 \
        git --git-dir="$copy/.git" --work-tree="$repo" "$@"
}
export -f vgit
SELFGYM_GIT_COPIES=$(mktemp -d) || exit 1
export SELFGYM_GIT_COPIES
cd /work || exit 1
bash -e /tests/check.sh
status=$?
if [ "$status" -eq 0 ]; then echo 1; else echo 0; fi > /logs/verifier/reward.txt

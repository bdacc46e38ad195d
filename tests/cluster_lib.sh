# cluster_lib.sh -- what the shell tests of `deja cluster` share (sourced
# once `deja`, the binary, and `name`, the test's, are set): a scratch
# directory $dir removed at exit; fail MSG; get KEY FILE, the value of a
# key=value line; and run_cluster OUT ARGS..., which runs `deja cluster
# ARGS...` with its stdout in $dir/OUT.txt and its stderr in $dir/OUT.err
# and leaves its exit status in $rc without stopping the test.
dir=$(mktemp -d "${TMPDIR:-/tmp}/deja-$name-XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "$name: $*" >&2; exit 1; }
get() { sed -n "s/^$1=//p" "$2"; }
run_cluster() {
    out=$1
    shift
    set +e
    "$deja" cluster "$@" >"$dir/$out.txt" 2>"$dir/$out.err"
    rc=$?
    set -e
}

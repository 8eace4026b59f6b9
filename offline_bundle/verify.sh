#!/bin/sh
# Verify a Vigie offline bundle BEFORE running anything from it.
#
#   sh verify.sh ARCHIVE.tar PUBLIC_KEY.pem [ARCHIVE_SIGNATURE]
#       ARCHIVE_SIGNATURE defaults to ARCHIVE.tar.sha256.sig beside the archive: the Ed25519
#       signature of ARCHIVE.tar.sha256 (the archive's SHA-256, beside it too), so it
#       covers every byte of the archive.
#       Checks the archive's signature, lists the archive (one top folder, only regular files
#       and folders, no absolute or ".." names), extracts it into a temporary folder (removed
#       on exit; set TMPDIR to a disk with room for the bundle) and runs the folder checks.
#   sh verify.sh --dir FOLDER PUBLIC_KEY.pem
#       The folder checks only, on an already extracted bundle (install.sh uses this).
#
# Folder checks: MANIFEST.json.sig signs MANIFEST.json; MANIFEST.json's "sha256sums" is the
# SHA-256 of SHA256SUMS; every file listed in SHA256SUMS is there with that content; every
# regular file is listed; no links or special files.
#
# Exit status: 0 verified ("verify: OK ..." with the key's fingerprint: compare it with the one
# the bundle's builder gives you); 1 the bundle fails a check (one "verify: NAME: ..." line per
# problem); 2 usage error, missing tool, unreadable input.
#
# Stock Debian 12 tools only (POSIX sh, openssl, sha256sum, tar, find, sort, sed, grep, mktemp,
# cut), and nothing from the bundle is ever executed: it is only listed, extracted and hashed.
set -eu
LC_ALL=C
export LC_ALL
umask 077

USAGE='usage: sh verify.sh ARCHIVE.tar PUBLIC_KEY.pem [ARCHIVE_SIGNATURE]
       sh verify.sh --dir FOLDER PUBLIC_KEY.pem'
NL='
'
problems=0

fatal() {
    # Cannot check at all (usage, tools, unreadable input): exit 2, not "the bundle is bad".
    printf 'verify: %s\n' "$*" >&2
    exit 2
}

usage() {
    printf '%s\n' "$USAGE" >&2
    exit 2
}

problem() {
    # One line per problem, naming the file; the checks go on so that every problem is named.
    printf 'verify: %s\n' "$*" >&2
    problems=$((problems + 1))
}

safe_path() {
    # A relative path starting with "-" would be read as an option by openssl or tar.
    case $1 in
        -*) printf './%s' "$1" ;;
        *) printf '%s' "$1" ;;
    esac
}

mode=archive
case ${1-} in
    -h | --help)
        printf '%s\n' "$USAGE"
        exit 0
        ;;
    --dir)
        [ $# -eq 3 ] || usage
        mode=dir
        target=$(safe_path "$2")
        key=$(safe_path "$3")
        ;;
    '' | -*) usage ;;
    *)
        [ $# -eq 2 ] || [ $# -eq 3 ] || usage
        target=$(safe_path "$1")
        key=$(safe_path "$2")
        sig=$(safe_path "${3-$1.sha256.sig}")
        digest="${sig%.sig}"
        ;;
esac

for tool in openssl sha256sum tar find sort sed grep mktemp cut chmod rm; do
    command -v "$tool" >/dev/null 2>&1 || fatal "missing tool: $tool (install it, then run again)"
done

[ -f "$key" ] && [ -r "$key" ] || fatal "cannot read the public key: $key"
if [ "$mode" = dir ]; then
    [ -d "$target" ] && [ -r "$target" ] || fatal "cannot read the folder: $target"
else
    [ -f "$target" ] && [ -r "$target" ] || fatal "cannot read the archive: $target"
    [ -f "$sig" ] && [ -r "$sig" ] ||
        fatal "cannot read the archive's signature: $sig (give its path as the third argument)"
    [ -f "$digest" ] && [ -r "$digest" ] ||
        fatal "cannot read the archive's digest: $digest (it goes beside its signature)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vigie-verify.XXXXXX") ||
    fatal "cannot create a temporary folder (set TMPDIR to a writable folder)"
# Extracted folders may be read-only: make them writable so that rm can empty them.
trap 'chmod -R u+rwx "$work" 2>/dev/null || :; rm -rf "$work"' EXIT
trap 'exit 2' HUP INT TERM

# The fingerprint the administrator compares, by phone, with the builder's.
# Same value as: openssl pkey -pubin -in KEY -outform DER | sha256sum | cut -d' ' -f1
openssl pkey -pubin -in "$key" -outform DER -out "$work/key.der" 2>/dev/null ||
    fatal "cannot read the public key (not a PEM public key?): $key"
fp=$(sha256sum <"$work/key.der" | cut -d' ' -f1)

signature_ok() {
    # $1 signed by $2 under the key (Ed25519): openssl says so and exits 0.
    out=$(openssl pkeyutl -verify -pubin -inkey "$key" -rawin -in "$1" -sigfile "$2" \
        2>/dev/null) || return 1
    [ "$out" = "Signature Verified Successfully" ]
}

check_members() {
    # Refuse, before extracting, anything that could land outside the temporary folder or
    # is not a plain file or folder. Sets $top, the archive's one top folder. GNU tar lists
    # odd bytes (newline, tab, non-ASCII) as backslash escapes, one member per line; escaping
    # never produces "/" or ".", so the checks below hold on the escaped names, and
    # check_dir refuses real newlines after extraction.
    [ -s "$work/names" ] || {
        problem "$target: the archive is empty"
        return 1
    }
    bad=0
    n=0
    while IFS= read -r line; do
        n=$((n + 1))
        case $line in
            -* | d*) ;;
            *)
                problem "$target: $(sed -n "${n}p" "$work/names"): a link or special file, not a regular file or folder (refused, nothing extracted)"
                bad=1
                ;;
        esac
    done <"$work/long"
    top=$(sed -n '1s|/.*||p' "$work/names")
    case $top in
        '' | . | .. | *\\*)
            problem "$target: the archive's first member is not inside a top folder (refused, nothing extracted)"
            return 1
            ;;
    esac
    while IFS= read -r name; do
        case $name in
            /*)
                problem "$target: $name: absolute path (refused, nothing extracted)"
                bad=1
                continue
                ;;
        esac
        case /$name/ in
            */../*)
                problem "$target: $name: has a '..' component (refused, nothing extracted)"
                bad=1
                continue
                ;;
        esac
        case $name in
            "$top" | "$top"/*) ;;
            *)
                problem "$target: $name: outside the top folder $top/ (refused, nothing extracted)"
                bad=1
                ;;
        esac
    done <"$work/names"
    return $bad
}

has() {
    # $1 is a regular file in the folder being checked ($dir), not a link to one.
    [ ! -L "$dir/$1" ] && [ -f "$dir/$1" ]
}

check_dir() {
    # The folder checks; every message names a path relative to the bundle's top folder.
    dir=$1
    if [ -L "$dir" ] || [ ! -d "$dir" ]; then
        problem "$2: not a folder"
        return 0
    fi

    # Names with a newline would split every listing below: refuse them outright.
    (cd "$dir" && find . -name "*$NL*") >"$work/newline" 2>/dev/null || :
    if [ -s "$work/newline" ]; then
        problem "$2: a file name contains a newline (refused; nothing else checked)"
        return 0
    fi

    # Links and special files: a link can point outside the bundle, a FIFO would hang sha256sum.
    if (cd "$dir" && find . ! -type f ! -type d) >"$work/special.raw" 2>"$work/find.err"; then
        :
    else
        problem "$2: cannot list the folder: $(sed -n 1p "$work/find.err")"
    fi
    sed 's|^\./||' "$work/special.raw" >"$work/special"
    while IFS= read -r name; do
        problem "$name: a link or special file, not a regular file (refused)"
    done <"$work/special"

    # A missing piece skips only the checks that need it: the others still name what they can.
    for f in MANIFEST.json MANIFEST.json.sig SHA256SUMS; do
        if [ -L "$dir/$f" ] || [ ! -f "$dir/$f" ]; then
            problem "$f: missing"
        fi
    done
    if has MANIFEST.json && has MANIFEST.json.sig &&
        ! signature_ok "$dir/MANIFEST.json" "$dir/MANIFEST.json.sig"; then
        problem "MANIFEST.json: signature does not match $key (wrong key, or the manifest was changed)"
    fi
    has SHA256SUMS || return 0

    # The manifest is json.dumps(indent=2, sort_keys=True): the key sits on its own line.
    if has MANIFEST.json; then
        want=$(sed -n 's/^  "sha256sums": "\([0-9a-f]\{64\}\)",\{0,1\}$/\1/p' \
            "$dir/MANIFEST.json")
        case $want in
            '') problem 'MANIFEST.json: no "sha256sums" entry' ;;
            *"$NL"*) problem 'MANIFEST.json: more than one "sha256sums" entry' ;;
            *)
                have=$(sha256sum <"$dir/SHA256SUMS" | cut -d' ' -f1)
                [ "$want" = "$have" ] ||
                    problem 'SHA256SUMS: does not match the "sha256sums" hash in MANIFEST.json (SHA256SUMS was changed)'
                ;;
        esac
    fi

    # SHA256SUMS lines: "<64 hex>  <path>" with a plain relative path inside the folder.
    grep -nvE '^[0-9a-f]{64} [ *].' "$dir/SHA256SUMS" | cut -d: -f1 >"$work/malformed" || :
    while IFS= read -r n; do
        problem "SHA256SUMS: line $n is not \"<sha256>  <path>\""
    done <"$work/malformed"
    grep -E '^[0-9a-f]{64} [ *].' "$dir/SHA256SUMS" >"$work/valid" || :
    # "<64 hex><space><space or *>": 66 characters before the path (a pattern, not a subshell).
    HASH_PREFIX=
    while [ ${#HASH_PREFIX} -lt 66 ]; do HASH_PREFIX="$HASH_PREFIX?"; done
    : >"$work/listed.inorder"
    : >"$work/lines.ok"
    n=0
    while IFS= read -r line; do
        n=$((n + 1))
        name=${line#$HASH_PREFIX}
        case /$name/ in
            */../* | */./* | *//* | *\\*)
                problem "SHA256SUMS: $name: not a plain relative path inside the bundle"
                continue
                ;;
        esac
        case $name in
            /* | */)
                problem "SHA256SUMS: $name: not a plain relative path inside the bundle"
                continue
                ;;
            MANIFEST.json | MANIFEST.json.sig | SHA256SUMS)
                problem "SHA256SUMS: lists $name, which it must not"
                continue
                ;;
        esac
        printf '%s\n' "$name" >>"$work/listed.inorder"
        printf '%s\n' "$n" >>"$work/lines.ok"
    done <"$work/valid"

    # Regular files actually there (find does not follow links), minus the manifest's own.
    (cd "$dir" && find . -type f) >"$work/found.raw" 2>/dev/null || :
    sed 's|^\./||' "$work/found.raw" |
        grep -vxF -e MANIFEST.json -e MANIFEST.json.sig -e SHA256SUMS | sort >"$work/found"
    sort -u "$work/listed.inorder" >"$work/listed"

    grep -vxF -f "$work/listed" "$work/found" >"$work/extra" || :
    while IFS= read -r name; do
        problem "$name: not in the manifest"
    done <"$work/extra"

    grep -vxF -f "$work/found" "$work/listed" >"$work/absent" || :
    while IFS= read -r name; do
        if [ -e "$dir/$name" ] || [ -L "$dir/$name" ]; then
            problem "$name: not a regular file"
        else
            problem "$name: missing"
        fi
    done <"$work/absent"

    # Hash only the listed lines whose file is a real regular file: never follow a link out
    # of the bundle, never open a FIFO. Line k of listed.inorder is line (lines.ok line k) of
    # $work/valid; turn the present ones into a sed script "Np".
    grep -nxF -f "$work/found" "$work/listed.inorder" | cut -d: -f1 >"$work/present.k" || :
    : >"$work/pick"
    if [ -s "$work/present.k" ]; then
        sed 's/$/p/' "$work/present.k" >"$work/k.sed"
        sed -n -f "$work/k.sed" "$work/lines.ok" | sed 's/$/p/' >"$work/pick"
    fi
    : >"$work/sums"
    if [ -s "$work/pick" ]; then
        sed -n -f "$work/pick" "$work/valid" >"$work/sums"
    fi
    [ -s "$work/sums" ] || return 0
    if (cd "$dir" && sha256sum -c --quiet "$work/sums") >"$work/check.out" 2>"$work/check.err"
    then
        return 0
    fi
    sed -n 's/: FAILED$//p' "$work/check.out" >"$work/differs"
    sed -n 's/: FAILED open or read$//p' "$work/check.out" >"$work/unreadable"
    while IFS= read -r name; do
        problem "$name: content differs from the manifest"
    done <"$work/differs"
    while IFS= read -r name; do
        problem "$name: cannot be read"
    done <"$work/unreadable"
    if [ ! -s "$work/differs" ] && [ ! -s "$work/unreadable" ]; then
        problem "SHA256SUMS: sha256sum -c failed: $(sed -n 1p "$work/check.err")"
    fi
}

if [ "$mode" = dir ]; then
    check_dir "$target" "$target"
else
    # (a) The archive's signature covers every byte, tar headers and padding included.
    if ! signature_ok "$digest" "$sig" ||
        [ "$(cut -d' ' -f1 <"$digest")" != "$(sha256sum <"$target" | cut -d' ' -f1)" ]; then
        problem "$target: the archive's signature does not match $key (wrong key, or the archive was changed)"
    fi
    # (b) List, refuse what could escape or is not a plain file/folder, then extract.
    # (c) Run the folder checks even when (a) failed, to name what differs.
    if tar -tf "$target" >"$work/names" 2>"$work/tar.err" &&
        tar -tvf "$target" >"$work/long" 2>>"$work/tar.err"; then
        if check_members; then
            mkdir "$work/x"
            if tar -xf "$target" -C "$work/x" --no-same-owner --no-same-permissions \
                2>"$work/tar.err"; then
                check_dir "$work/x/$top" "$target: $top"
            else
                problem "$target: cannot be extracted: $(sed -n 1p "$work/tar.err") (is TMPDIR full?)"
            fi
        fi
    else
        problem "$target: not a readable tar archive: $(sed -n 1p "$work/tar.err")"
    fi
fi

if [ "$problems" -ne 0 ]; then
    printf 'verify: FAILED %s: %s problem(s); do not install from this bundle\n' \
        "$target" "$problems" >&2
    exit 1
fi
printf 'verify: OK %s (key sha256:%s)\n' "$target" "$fp"
exit 0

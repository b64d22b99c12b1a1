#!/bin/sh
# relais-keys-init: create the keys a Relais deployment needs, once (idempotent).
#
# Runs in any Relais service image (installed as /usr/local/bin/relais-keys-init), as the
# one-shot `keys-init` container of deploy/compose.yaml, or by hand. It never replaces an
# existing key: rotation is a deliberate operator step (docs/runbook.md, "Keys").
#
#   $KEYS_JWT_DIR          jwt-signing.json (PRIVATE: only whoever mints tokens) and the
#                          master copy of jwks.json            default /keys/jwt
#   $KEYS_JWKS_DIR         jwks.json, public keys only: every service
#                          (RELAIS_JWKS_PATH=$KEYS_JWKS_DIR/jwks.json)  default /keys/jwks
#   $KEYS_PRE_PRIVATE_DIR  <pre>.private.jwk.json + <pre>.public.jwk.json: parcours only
#                          (its RELAIS_KEYS_DIR)                default /keys/pre-private
#   $KEYS_PRE_PUBLIC_DIR   <pre>.public.jwk.json: referral (its RELAIS_KEYS_DIR)
#                                                               default /keys/pre-public
#   $KEYS_REFERRAL_DIR     the referral service's own secrets: per-PRE at-rest and
#                          blind-index keys (<pre>.referral.json) and the AMQP intake
#                          key pair: referral only (its REFERRAL_SECRETS_DIR)
#                                                               default /keys/referral
#   parcours-master.key    in $KEYS_PRE_PRIVATE_DIR: the master key wrapping each child's
#                          data key in parcours (base64url of 32 random bytes): parcours only
#   family/                in $KEYS_PRE_PRIVATE_DIR: the key parcours signs guardians'
#                          sessions with (RELAIS_FAMILY_JWKS_PATH=/keys/pre/family/jwks.json)
#   $RELAIS_PRE_IDS        PRE ids to create sealing keys for, separated by commas or
#                          spaces, e.g. "pre-76540,pre-13055"
#   $KEYS_INIT_JWT         "false" to skip the dev JWT signing key (when an identity
#                          provider issues the tokens and you provide its JWKS yourself)
set -eu
umask 077

JWT_DIR=${KEYS_JWT_DIR:-/keys/jwt}
JWKS_DIR=${KEYS_JWKS_DIR:-/keys/jwks}
PRE_PRIVATE=${KEYS_PRE_PRIVATE_DIR:-/keys/pre-private}
PRE_PUBLIC=${KEYS_PRE_PUBLIC_DIR:-/keys/pre-public}
REFERRAL_SECRETS=${KEYS_REFERRAL_DIR:-/keys/referral}

# Copy a public file into place atomically (a service polling it never reads half a file).
publish() { # src dest
    tmp="$(dirname "$2")/.$(basename "$2").tmp.$$"
    cp "$1" "$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$2"
}

# Every folder checked before anything is written: a half-made set of keys is worse than
# none. A volume mounted where the image has no such folder belongs to root.
unwritable=0
for dir in "$JWT_DIR" "$JWKS_DIR" "$PRE_PRIVATE" "$PRE_PUBLIC" "$REFERRAL_SECRETS"; do
    mkdir -p "$dir" 2>/dev/null || true
    if [ ! -d "$dir" ] || [ ! -w "$dir" ]; then
        echo "keys-init: $dir n'est pas inscriptible par l'utilisateur $(id -u) ($dir is not writable: mount a volume on a folder the image creates, or chown it to uid $(id -u))" >&2
        unwritable=1
    fi
done
[ "$unwritable" -eq 0 ] || exit 1

if [ "${KEYS_INIT_JWT:-true}" != "false" ]; then
    if [ ! -f "$JWT_DIR/jwt-signing.json" ]; then
        relais keys init-jwt --dir "$JWT_DIR"
    else
        echo "keys-init: JWT signing key present in $JWT_DIR, kept"
    fi
    if ! cmp -s "$JWT_DIR/jwks.json" "$JWKS_DIR/jwks.json"; then
        publish "$JWT_DIR/jwks.json" "$JWKS_DIR/jwks.json"
        echo "keys-init: published $JWKS_DIR/jwks.json"
    fi
fi

for pre in $(echo "${RELAIS_PRE_IDS:-}" | tr ',' ' '); do
    case "$pre" in
        ''|-*|*[!a-z0-9-]*)
            echo "keys-init: '$pre' is not a PRE id (lower-case slug like pre-76540)" >&2
            exit 2 ;;
    esac
    if [ ! -f "$PRE_PRIVATE/$pre.private.jwk.json" ]; then
        if relais keys init-pre --help >/dev/null 2>&1; then
            relais keys init-pre "$pre" --dir "$PRE_PRIVATE"
        else # older images without `relais keys init-pre`
            python -c 'import sys; from pathlib import Path; from relais_runtime.sealing import generate_pre_key; print("kid:", generate_pre_key(Path(sys.argv[1]), sys.argv[2]).kid)' \
                "$PRE_PRIVATE" "$pre"
        fi
        chmod 0600 "$PRE_PRIVATE/$pre.private.jwk.json"
    else
        echo "keys-init: sealing key of $pre present, kept"
    fi
    if ! cmp -s "$PRE_PRIVATE/$pre.public.jwk.json" "$PRE_PUBLIC/$pre.public.jwk.json"; then
        publish "$PRE_PRIVATE/$pre.public.jwk.json" "$PRE_PUBLIC/$pre.public.jwk.json"
        echo "keys-init: published $PRE_PUBLIC/$pre.public.jwk.json"
    fi
    # Idempotent: an existing key is kept (the blind-index key must never change silently).
    if command -v relais-referral >/dev/null 2>&1; then
        relais-referral keys init-pre "$pre" --dir "$REFERRAL_SECRETS"
    fi
done

# Parcours' master key: created once, never replaced here (losing it loses every identity).
if [ ! -f "$PRE_PRIVATE/parcours-master.key" ]; then
    python -c 'import base64, os, sys; sys.stdout.write(base64.urlsafe_b64encode(os.urandom(32)).decode())' \
        > "$PRE_PRIVATE/parcours-master.key"
    chmod 0600 "$PRE_PRIVATE/parcours-master.key"
    echo "keys-init: created $PRE_PRIVATE/parcours-master.key (back it up apart from the database)"
else
    echo "keys-init: parcours master key present, kept"
fi

if command -v relais-referral >/dev/null 2>&1; then
    relais-referral keys init-intake --dir "$REFERRAL_SECRETS"
fi

# Parcours signs guardians' sessions (family space, ADR 0012) with its own key, beside the
# PRE private keys (parcours only): created once, kept (init-jwt never replaces it).
relais keys init-jwt --dir "$PRE_PRIVATE/family"

echo "keys-init: done"

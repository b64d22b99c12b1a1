#!/usr/bin/env bash
# The life of a situation through the API, as a script: docs/parcours-walkthrough.md.
#
#   ./scripts/dev-up                       # in another terminal
#   bash docs/parcours-walkthrough.sh      # reads var/demo-tokens.env (or $RELAIS_DEMO_TOKENS)
#
# Needs curl and jq. The lines between the two "walkthrough" marks below are the page's
# code block, word for word; tests/e2e/test_parcours_walkthrough.py checks that and runs
# this script against the four services with the demo PRE, so the page stays true.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source "${RELAIS_DEMO_TOKENS:-var/demo-tokens.env}"
command -v jq >/dev/null || { echo "jq est requis : apt-get install jq" >&2; exit 1; }

# --- walkthrough ---
R=${RELAIS_REFERRAL_URL:-http://127.0.0.1:8001}
P=${RELAIS_PARCOURS_URL:-http://127.0.0.1:8002}
N=${RELAIS_NOTIFICATIONS_URL:-http://127.0.0.1:8003}
J='content-type: application/json'
E="Authorization: Bearer $RELAIS_TOKEN_INSTITUTION"   # école Jules Ferry
C="Authorization: Bearer $RELAIS_TOKEN_COORDINATOR"   # coordination
F="Authorization: Bearer $RELAIS_TOKEN_REFERENT"      # référente (Camille Morel)
PA="Authorization: Bearer $RELAIS_TOKEN_PARTNER"      # partenaire (CMPP)
TODAY=$(TZ=Europe/Paris date +%F)                     # the PRE's day
# curl that shows the answer and fails on an HTTP error (4xx, 5xx)
api() { curl -s --fail-with-body "$@"; }

# 0. A school refers a child (as in the README); the PRE's inbox shows its situation
#    within a second or so
REF=$(api -X POST $R/v1/referrals -H "$E" -H "$J" -H "Idempotency-Key: walk-$(date +%s%N)" \
  -d '{"pre_id":"pre-76540",
       "child":{"first_name":"Noah","last_name":"Petit","birth_date":"2016-09-02","sex":"male",
                "school_level":"cm1","lives_in_qpv":"yes"},
       "guardians":[{"first_name":"Julie","last_name":"Petit","relationship":"mother",
                     "phone":"06 98 76 54 32","languages":["fr"]}],
       "referrer":{"name":"Mme Durand","role":"directrice","email":"direction@ecole.example"},
       "reasons":{"categories":["learning_difficulties"],"description":"Langage oral."},
       "axes":["schooling","health"],"parents_informed":true,"parents_agree":true}' | jq -r .id)
for _ in $(seq 30); do
  SIT=$(api -H "$C" "$P/v1/situations?stage=awaiting_review" \
    | jq -r --arg ref "$REF" '.items[] | select(.referral_ids | index($ref)) | .id')
  [ -n "$SIT" ] && break
  sleep 1
done
echo "referral $REF -> situation $SIT"

# 1. Inbox, then one situation with the identity (coordination and its référent only);
#    each line carries "warnings" (a parcours past the PRE's maximum duration)
api -H "$C" "$P/v1/situations?stage=awaiting_review" | jq '.items | length'
api -H "$C" $P/v1/situations/$SIT | jq '{id, stage}'

# 2. Team review (EPS): a meeting with its agenda and attendees, then the decision
MEETING=$(api -X POST $P/v1/reviews -H "$C" -H "$J" -d '{"meets_on":"'$TODAY'",
  "attendees":[{"name":"Mme Leroy","organisation":"PRE"}],"situation_ids":["'$SIT'"]}' \
  | jq -r .id)
api -X POST $P/v1/reviews/$MEETING/decisions -H "$C" -H "$J" \
  -d '{"situation_id":"'$SIT'","decision":"take_up","axes":["schooling","health"]}' | jq .
#    (redirect: "redirected_to" + "redirect_category"; decline: "decline_reason")
#    A meeting may be planned ahead; its decisions are recorded from its day on
#    (before: 409 review_not_held). GET /v1/reviews/$MEETING shows the team's "note" to
#    the coordination and to each situation's référent only (others: null).

# 3. Référent (caseload limits: PUT /v1/settings, override with "override_reason")
api -H "$C" $P/v1/referents | jq -c '.[] | {id, display_name}'
api -X PUT $P/v1/situations/$SIT/referent -H "$C" -H "$J" \
  -d '{"referent_id":"c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f"}' | jq -c .

# 4. Consent: per guardian, form, scope (partner or category × data categories), expiry
CONSENT=$(api -X POST $P/v1/situations/$SIT/consents -H "$F" -H "$J" -d '{"form":"signed",
  "given_at":"'$(date -u +%FT%TZ)'","valid_until":"'$(date -d '+1 year' +%F)'",
  "guardians":[{"label":"Mère","relationship":"mother"},{"label":"Père","relationship":"father"}],
  "scope":[{"partner_id":"cmpp-rouen-rive-gauche","data_categories":["identity_and_contact","health"]}]}' \
  | jq -r .id)
#    given_at not in the future, valid_until neither before it nor already past (422 naming
#    the field); one guardian alone needs "sole_guardian_reason"; oral needs "witness".

# 5. Plan: objectives and actions on the four axes
OBJ=$(api -X POST $P/v1/situations/$SIT/plan/objectives -H "$F" -H "$J" \
  -d '{"axis":"health","title":"Langage oral"}' | jq -r .id)
ACT=$(api -X POST $P/v1/situations/$SIT/plan/objectives/$OBJ/actions -H "$F" -H "$J" \
  -d '{"title":"Bilan orthophonique"}' | jq -r .id)

# 6. Handover to a partner, within the consent (beyond it, or to a partner the consent
#    does not name at all: 403 consent_scope_exceeded)
HO=$(api -X POST $P/v1/situations/$SIT/handovers -H "$F" -H "$J" -d '{"action_id":"'$ACT'",
  "partner_id":"cmpp-rouen-rive-gauche","data_categories":["identity_and_contact","health"]}' \
  | jq -r .id)
api -H "$PA" $P/v1/handovers | jq -c '.items[] | {id, status}'   # the partner's list
api -X POST $P/v1/handovers/$HO/acceptance -H "$PA" -H "$J" -d '{}' | jq -c '{id, status}'
#    or /refusal {"reason":"no_capacity"}, /waitlisting {"expected_start_on":"2027-03-01"}
#    (starts_on / expected_start_on not before the day of the request: 422 on the field)
api -H "$PA" $P/v1/handovers/$HO/sheet | jq 'keys'      # only what consent allows; recorded
api -H "$F" $P/v1/situations/$SIT/disclosures | jq -c '.[]'   # who saw what, when (for the family)

# 7. The partner reports back: completion with an outcome (the plan's action is done)
api -X POST $P/v1/handovers/$HO/completion -H "$PA" -H "$J" -d '{"outcome":"achieved"}' \
  | jq -c '{id, status}'

# 8. Withdrawal by a guardian who gave the consent (another label: 422 guardian_unknown):
#    every open handover is cancelled, every sheet refused at once. To see it cut a
#    partner off, make a second handover (step 6) and withdraw before step 7.
api -X POST $P/v1/situations/$SIT/consents/$CONSENT/withdrawal -H "$F" -H "$J" \
  -d '{"guardian":"Mère"}' | jq -c .
curl -s -o /dev/null -w 'sheet after withdrawal: %{http_code}\n' \
  -H "$PA" $P/v1/handovers/$HO/sheet                    # 403
api -H "$PA" $P/v1/handovers | jq -c '.items[]'          # id, status, dates, how it ended;
#    action_title, axis, data_categories… are null once consent no longer covers it

# 9. Closure, then the follow-up six months later
api -X POST $P/v1/situations/$SIT/closure -H "$F" -H "$J" \
  -d '{"exit_reason":"consent_withdrawn","final_review_held":true}' | jq -c .
#    The follow-up is recorded once it has been held, with the day it was held: not before
#    the closure, not in the future (422 date_in_future on "held_on"). Here, today:
api -X POST $P/v1/situations/$SIT/followup -H "$F" -H "$J" \
  -d '{"outcome":"stable","held_on":"'$TODAY'"}' | jq -c .

# 10. What the sender and the people involved heard (it arrives within a second or so)
sleep 2
api -H "$E" $R/v1/referrals/$REF | jq -c '{id, status}'
api -H "$F" $N/v1/feed | jq -c '[.items[].kind]'
# --- end of walkthrough ---

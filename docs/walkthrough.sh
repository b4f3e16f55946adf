# The whole walkthrough in one block: paste it into a terminal while `make run` serves (for
# another port, set PORT first: `PORT=9000`). Needs curl and jq. It writes a few *.json and *.txt
# files into the current directory. tests/test_walkthrough.py runs this very file.
PORT=${PORT:-8000}
BASE="http://127.0.0.1:$PORT/openapi/v1"
events() { sed -n 's/^data: //p' "$1"; }   # the JSON of each server-sent event saved in a file

# 1. Log in as difyctl does (OAuth device flow): ask for a code ...
curl -s -X POST "$BASE/oauth/device/code" -H 'Content-Type: application/json' \
     -d '{"client_id": "difyctl", "device_label": "curl on my-laptop"}' > code.json
DEVICE_CODE=$(jq -r .device_code code.json)
INTERVAL=$(jq -r .interval code.json)
echo "Open $(jq -r .verification_uri code.json)?user_code=$(jq -r .user_code code.json)"
echo "log in as demo@example.com / demo-password, check the code and approve; waiting ..."

# ... and poll every INTERVAL seconds until the browser has approved.
while :; do
  sleep "$INTERVAL"
  curl -s -X POST "$BASE/oauth/device/token" -H 'Content-Type: application/json' \
       -d "{\"client_id\": \"difyctl\", \"device_code\": \"$DEVICE_CODE\"}" > login.json
  case $(jq -r '.error // "approved"' login.json) in
    approved) break ;;
    authorization_pending) ;;                                  # not yet: poll again
    slow_down) INTERVAL=$(jq -r .interval login.json) ;;       # polled too fast: a new interval
    *) cat login.json; echo; break ;;                          # denied or expired: start again
  esac
done
TOKEN=$(jq -r .token login.json)            # delivered once; only its digest is stored
AUTH="Authorization: Bearer $TOKEN"

# 2. Who you are, your workspaces, the apps of your current workspace.
curl -s "$BASE/account" -H "$AUTH" | tee account.json; echo
WORKSPACE_ID=$(jq -r .default_workspace_id account.json)
curl -s "$BASE/workspaces" -H "$AUTH"; echo
curl -s "$BASE/apps?workspace_id=$WORKSPACE_ID&limit=100" -H "$AUTH" > apps.json
jq -r '.data[] | "\(.id)  \(.mode)  \(.name)"' apps.json
app_id() { jq -r --arg name "$1" '.data[] | select(.name == $name) | .id' apps.json; }
APP=$(app_id "Echo Workflow")
CHAT=$(app_id "Echo Chat")
FORM_APP=$(app_id "Approval Request")
curl -s "$BASE/apps/$APP/describe" -H "$AUTH" | jq '.parameters.user_input_form'

# 3. Run a workflow, then a chat of two turns (each answer is a stream of server-sent events).
curl -sN -X POST "$BASE/apps/$APP/run" -H "$AUTH" -H 'Content-Type: application/json' \
     -d '{"inputs": {"x": "hello", "num": 4}}' | tee workflow.txt
curl -sN -X POST "$BASE/apps/$CHAT/run" -H "$AUTH" -H 'Content-Type: application/json' \
     -d '{"inputs": {}, "query": "hi"}' | tee chat.txt
CONVERSATION=$(events chat.txt | jq -rn 'first(inputs | .conversation_id // empty)')
curl -sN -X POST "$BASE/apps/$CHAT/run" -H "$AUTH" -H 'Content-Type: application/json' \
     -d "{\"inputs\": {}, \"query\": \"and again\", \"conversation_id\": \"$CONVERSATION\"}"

# 4. A run that waits for a person: its stream ends when it pauses at the form; the run waits.
curl -sN -X POST "$BASE/apps/$FORM_APP/run" -H "$AUTH" -H 'Content-Type: application/json' \
     -d '{"inputs": {"request": "A new laptop"}}' | tee paused.txt
WORKFLOW_RUN_ID=$(events paused.txt | jq -rn 'first(inputs | .workflow_run_id // empty)')
FORM=$(events paused.txt | jq -rn 'first(inputs | select(.event == "human_input_required"))
                                    | .data.form_token')
# Re-attach from anywhere (another terminal, later): the events so far, ending at the pause.
curl -sN "$BASE/apps/$FORM_APP/tasks/$WORKFLOW_RUN_ID/events" -H "$AUTH"
curl -s "$BASE/apps/$FORM_APP/form/human_input/$FORM" -H "$AUTH" | jq '{form_content, user_actions}'
curl -s -X POST "$BASE/apps/$FORM_APP/form/human_input/$FORM" -H "$AUTH" \
     -H 'Content-Type: application/json' -d '{"action": "approve", "inputs": {"comment": "ok"}}'
echo
# Re-attach again: the run resumed with the answer and finished.
curl -sN "$BASE/apps/$FORM_APP/tasks/$WORKFLOW_RUN_ID/events" -H "$AUTH" | tee resumed.txt

# 5. Stop a run: a second request, stopped while it waits; re-attaching then ends with the stop.
curl -sN -X POST "$BASE/apps/$FORM_APP/run" -H "$AUTH" -H 'Content-Type: application/json' \
     -d '{"inputs": {"request": "A second laptop"}}' > second.txt
TASK_ID=$(events second.txt | jq -rn 'first(inputs | .task_id // empty)')
curl -s -X POST "$BASE/apps/$FORM_APP/tasks/$TASK_ID/stop" -H "$AUTH" | tee stop.json; echo
curl -sN "$BASE/apps/$FORM_APP/tasks/$TASK_ID/events" -H "$AUTH" | tee stopped.txt

# 6. Your devices; then log out: the token stops working (401 invalid_bearer, with a hint).
curl -s "$BASE/account/sessions" -H "$AUTH"; echo
curl -s -X DELETE "$BASE/account/sessions/self" -H "$AUTH"; echo
curl -s "$BASE/account" -H "$AUTH"; echo

#!/bin/sh
# Counts the words of the event's "text" (the event arrives on stdin as JSON).
event=$(cat)
text=$(printf '%s' "$event" | sed -n 's/.*"text" *: *"\([^"]*\)".*/\1/p')
words=$(printf '%s' "$text" | wc -w)
echo "counted $words words" >&2
printf '{"words": %d, "sandbox_pid": %d}\n' "$words" "$$"

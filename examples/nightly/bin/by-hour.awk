# by-hour.awk - requests and server errors per hour of a web access log.
#
#   awk -v out=FILE -f by-hour.awk access.log
#
# Reads the combined log format; writes hour,requests,errors_5xx to FILE,
# one line for each of the 24 hours.
{
	split($4, t, ":")          # [24/Nov/2026:20:15:02
	h = t[2] + 0
	requests[h]++
	if ($9 ~ /^5/)
		errors[h]++
}

END {
	print "hour,requests,errors_5xx" > out
	for (h = 0; h < 24; h++)
		printf "%02d,%d,%d\n", h, requests[h], errors[h] > out
}

# totals.awk - orders, items and revenue in euros per sales region.
#
#   awk -v out=FILE -f totals.awk rates.xml sales-REGION.csv...
#
# rates.xml gives units of each currency per euro; each sales CSV has the
# columns order_id,date,product,quantity,unit_price,currency and a header.
# Writes region,orders,items,revenue_eur to FILE, regions in argument order.
# A currency without a rate is an error: a report in the wrong currency is
# worse than no report.
BEGIN { FS = ","; rate["EUR"] = 1; n = 0 }

FILENAME ~ /\.xml$/ {
	if ($0 ~ /<rate /) {
		c = $0; sub(/.*currency="/, "", c); sub(/".*/, "", c)
		v = $0; sub(/.*value="/, "", v); sub(/".*/, "", v)
		rate[c] = v + 0
	}
	next
}

FNR == 1 {
	region = FILENAME
	sub(/.*sales-/, "", region)
	sub(/\.csv$/, "", region)
	order[++n] = region
	next
}

NF >= 6 {
	if (!($6 in rate)) {
		printf "%s:%d: no rate for currency '%s'\n", FILENAME, FNR, $6 > "/dev/stderr"
		bad = 1
		exit 1
	}
	orders[region]++
	items[region] += $4
	revenue[region] += $4 * $5 / rate[$6]
}

END {
	if (bad)
		exit 1
	print "region,orders,items,revenue_eur" > out
	for (i = 1; i <= n; i++) {
		r = order[i]
		printf "%s,%d,%d,%.2f\n", r, orders[r], items[r], revenue[r] > out
	}
}

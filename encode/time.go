package encode

import "slices"

// tsLen is the length of every @timestamp, "2006-01-02T15:04:05.000000000Z":
// RFC 3339, UTC, nine fractional digits. TimeUnixNano (an int64) spans the
// years 1677 to 2262, so the year always has four digits.
const tsLen = len("2006-01-02T15:04:05.000000000Z")

// daysToEpoch is the number of days from 0000-03-01 (the start of the
// March-based proleptic Gregorian year 0) to 1970-01-01.
const daysToEpoch = 719468

// digitPairs holds "00" to "99" back to back.
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// appendTimestamp appends the nanosecond Unix time ns as RFC 3339 in UTC
// with exactly nine fractional digits: the same text as
// time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z").
// It replaces time.Time.AppendFormat, which is several times slower
// (see BenchmarkTimestamp).
func appendTimestamp(dst []byte, ns int64) []byte {
	// Floor-divide into seconds and nanoseconds so times before 1970 work.
	sec := ns / 1e9
	nsec := ns - sec*1e9
	if nsec < 0 {
		nsec += 1e9
		sec--
	}
	// Count seconds from 0000-03-01 instead of 1970-01-01: every int64
	// nanosecond time is then positive, so the calendar arithmetic below
	// is unsigned and needs no floor corrections.
	s := uint64(sec + daysToEpoch*86400)
	days := uint32(s / 86400)
	sod := uint32(s - uint64(days)*86400)

	// Howard Hinnant's civil_from_days, on the unsigned day count.
	era := days / 146097
	doe := days - era*146097                               // day of era, [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of era, [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of March-based year, [0, 365]
	mp := (5*doy + 2) / 153                                // March = 0, [0, 11]
	day := doy - (153*mp+2)/5 + 1                          // [1, 31]
	month := mp + 3
	year := yoe + era*400
	if mp >= 10 {
		month -= 12
		year++
	}

	dst = slices.Grow(dst, tsLen)
	n := len(dst)
	dst = dst[:n+tsLen]
	b := (*[tsLen]byte)(dst[n:])
	put2(b[0:], year/100)
	put2(b[2:], year%100)
	b[4] = '-'
	put2(b[5:], month)
	b[7] = '-'
	put2(b[8:], day)
	b[10] = 'T'
	put2(b[11:], sod/3600)
	b[13] = ':'
	put2(b[14:], sod/60%60)
	b[16] = ':'
	put2(b[17:], sod%60)
	b[19] = '.'
	f := uint32(nsec)               // [0, 999999999]
	b[20] = byte('0' + f/100000000) // 1 digit
	f %= 100000000                  // 8 digits left
	hi, lo := f/10000, f%10000      // 4 + 4
	put2(b[21:], hi/100)
	put2(b[23:], hi%100)
	put2(b[25:], lo/100)
	put2(b[27:], lo%100)
	b[29] = 'Z'
	return dst
}

// put2 writes v (< 100) as two decimal digits.
func put2(b []byte, v uint32) {
	_ = b[1]
	b[0] = digitPairs[2*v]
	b[1] = digitPairs[2*v+1]
}

package analytics

import (
	"fmt"
	"math"
	"strconv"
)

// Amount converts an amount in minor units of currency (cents for USD, yen
// for JPY, fils for KWD) into the major-unit number the spec wants for
// prices and order amounts: Amount(1999, "USD") is 19.99, Amount(500, "JPY")
// is 500, Amount(1999, "KWD") is 1.999.
//
// The result is the float64 nearest to the exact decimal value, the same
// number the literal 19.99 gives (multiplying by 0.01 would give
// 19.990000000000002). currency is an ISO 4217 code in any case. An unknown
// code, or a code without minor units (gold XAU, SDR XDR, test XTS, ...),
// returns 0 and an error wrapping ErrInvalidValue.
func Amount(minor int64, currency string) (float64, error) {
	exp, err := CurrencyExponent(currency)
	if err != nil {
		return 0, err
	}
	return scale(minor, exp), nil
}

// scale returns minor / 10^exp correctly rounded.
func scale(minor int64, exp int) float64 {
	const exact = 1 << 53 // integers up to 2^53 are exact in a float64
	if exp == 0 {
		return float64(minor)
	}
	if -exact <= minor && minor <= exact {
		// Both operands are exact and IEEE division rounds correctly, so the
		// quotient is the float64 nearest to the decimal value.
		return float64(minor) / math.Pow10(exp)
	}
	// float64(minor) would round first: parse the exact decimal instead.
	var buf [32]byte
	b := strconv.AppendInt(buf[:0], minor, 10)
	b = append(b, 'e', '-', "0123456789"[exp]) // exp is 0 to 4
	f, _ := strconv.ParseFloat(string(b), 64)  // always a valid, finite number
	return f
}

// CurrencyExponent returns the number of decimal digits of the minor unit of
// an ISO 4217 currency (its exponent): 2 for USD and EUR, 0 for JPY and
// KRW, 3 for KWD and BHD, 4 for CLF. code is matched in any case. An unknown
// code, or one without minor units (XAU, XDR, XTS, ...), returns an error
// wrapping ErrInvalidValue.
func CurrencyExponent(code string) (int, error) {
	if len(code) != 3 || !isASCIILetter(code[0]) || !isASCIILetter(code[1]) || !isASCIILetter(code[2]) {
		return 0, fmt.Errorf("%w: currency %q is not a 3-letter ISO 4217 code", ErrInvalidValue, code)
	}
	var up [3]byte
	for i := range up {
		up[i] = asciiUpper(code[i])
	}
	if exp := iso4217Exponent(string(up[:])); exp >= 0 {
		return exp, nil
	}
	return 0, fmt.Errorf("%w: unknown or non-monetary ISO 4217 currency %q", ErrInvalidValue, code)
}

// iso4217Exponent returns the minor-unit exponent of an upper-case ISO 4217
// code, or -1 when the code is unknown or has no minor unit. The table
// follows the ISO 4217 list (amendments through 2025: XCG, ZWG, VED, SLE).
func iso4217Exponent(code string) int {
	switch code {
	// Exponent 0.
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
		"UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	// Exponent 3.
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	// Exponent 4.
	case "CLF", "UYW":
		return 4
	// Exponent 2: every other active currency.
	case "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN",
		"BAM", "BBD", "BDT", "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD",
		"BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CNY",
		"COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD",
		"EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
		"GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
		"IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP",
		"LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP",
		"MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
		"NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN",
		"QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
		"SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL",
		"THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD",
		"USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR",
		"ZMW", "ZWG", "ZWL":
		return 2
	}
	// Unknown, or without minor unit: XAG, XAU, XBA, XBB, XBC, XBD, XDR,
	// XPD, XPT, XSU, XTS, XUA, XXX.
	return -1
}

/*
 * ref_tp.h: LTTng-UST 2.13 tracepoint provider `rttng_ref`, the reference
 * event set that rttng's viewer is compared against (babeltrace2 is the judge).
 *
 * It covers every field kind LTTng-UST 2.13 offers to applications: integers
 * of every width and signedness, hexadecimal and network byte order integers,
 * floats, strings, static and dynamic arrays (of integers and of text),
 * enumerations with single values, ranges, overlapping ranges and automatic
 * values, and several log levels. It deliberately does not use tracef/tracelog
 * (those belong to the lttng_ust_tracef provider, which is not enabled).
 */
#undef TRACEPOINT_PROVIDER
#define TRACEPOINT_PROVIDER rttng_ref

#undef TRACEPOINT_INCLUDE
#define TRACEPOINT_INCLUDE "./ref_tp.h"

#if !defined(RTTNG_REF_TP_H) || defined(TRACEPOINT_HEADER_MULTI_READ)
#define RTTNG_REF_TP_H

#include <lttng/tracepoint.h>
#include <stddef.h>
#include <stdint.h>

/* Unsigned enumeration: a single value, disjoint ranges, an overlap, auto. */
TRACEPOINT_ENUM(rttng_ref, state,
	TP_ENUM_VALUES(
		ctf_enum_value("IDLE", 0)
		ctf_enum_range("LOW", 1, 9)
		ctf_enum_range("HIGH", 10, 99)
		ctf_enum_range("TENS", 10, 19)
		ctf_enum_value("MAX", 255)
		ctf_enum_auto("AFTER_MAX")
	)
)

/* Signed enumeration with negative ranges. */
TRACEPOINT_ENUM(rttng_ref, delta,
	TP_ENUM_VALUES(
		ctf_enum_range("VERY_NEGATIVE", -1000000, -100)
		ctf_enum_range("NEGATIVE", -99, -1)
		ctf_enum_value("NONE", 0)
		ctf_enum_range("POSITIVE", 1, 1000000)
	)
)

TRACEPOINT_EVENT(rttng_ref, integers,
	TP_ARGS(uint64_t, i),
	TP_FIELDS(
		ctf_integer(int8_t, s8, (int8_t)(-128 + (int)(i * 37 % 256)))
		ctf_integer(int16_t, s16, (int16_t)(-32768 + (int32_t)(i * 7919 % 65536)))
		ctf_integer(int32_t, s32, (int32_t)(-2147483647 - 1 + (int64_t)(i * 2654435761u % 4294967296u)))
		ctf_integer(int64_t, s64, (int64_t)(i * 0x9E3779B97F4A7C15ull))
		ctf_integer(uint8_t, u8, (uint8_t)(i * 41))
		ctf_integer(uint16_t, u16, (uint16_t)(i * 40503u))
		ctf_integer(uint32_t, u32, (uint32_t)(i * 2246822519u))
		ctf_integer(uint64_t, u64, (uint64_t)(UINT64_MAX - i))
		ctf_integer_hex(uint32_t, hex32, (uint32_t)(0xdeadbeefu ^ (uint32_t)i))
		ctf_integer_hex(int64_t, hex64_signed, (int64_t)(-1 - (int64_t)i))
		ctf_integer_network(uint32_t, net32, (uint32_t)(0x0a000001u + (uint32_t)i))
		ctf_integer_network(int16_t, net16_signed, (int16_t)(-2 - (int16_t)i))
		ctf_integer_network_hex(uint16_t, port_hex, (uint16_t)(8080 + i))
		ctf_integer(char, ch, (char)('a' + (char)(i % 26)))
		ctf_integer(size_t, sz, (size_t)(i * 4096))
	)
)
TRACEPOINT_LOGLEVEL(rttng_ref, integers, TRACE_INFO)

TRACEPOINT_EVENT(rttng_ref, extremes,
	TP_ARGS(int, unused),
	TP_FIELDS(
		ctf_integer(int8_t, s8_min, INT8_MIN)
		ctf_integer(int8_t, s8_max, INT8_MAX)
		ctf_integer(int16_t, s16_min, INT16_MIN)
		ctf_integer(int32_t, s32_min, INT32_MIN)
		ctf_integer(int64_t, s64_min, INT64_MIN)
		ctf_integer(int64_t, s64_max, INT64_MAX)
		ctf_integer(uint64_t, u64_max, UINT64_MAX)
		ctf_integer(uint64_t, u64_zero, 0)
		ctf_integer_hex(uint64_t, hex_zero, 0)
		ctf_integer_hex(uint64_t, hex_max, UINT64_MAX)
		ctf_integer_hex(int8_t, hex_s8_min, INT8_MIN)
	)
)
TRACEPOINT_LOGLEVEL(rttng_ref, extremes, TRACE_EMERG)

TRACEPOINT_EVENT(rttng_ref, floats,
	TP_ARGS(double, d, float, f),
	TP_FIELDS(
		ctf_float(float, f32, f)
		ctf_float(double, f64, d)
		ctf_float(double, f64_neg, -d * 1e-7)
		ctf_float(double, f64_big, d * 1e300)
	)
)
TRACEPOINT_LOGLEVEL(rttng_ref, floats, TRACE_DEBUG)

TRACEPOINT_EVENT(rttng_ref, special_floats,
	TP_ARGS(double, pos_inf, double, neg_inf, double, not_a_number),
	TP_FIELDS(
		ctf_float(double, zero, 0.0)
		ctf_float(double, neg_zero, -0.0)
		ctf_float(double, pinf, pos_inf)
		ctf_float(double, ninf, neg_inf)
		ctf_float(double, nan, not_a_number)
		ctf_float(float, f32_tiny, 1.17549435e-38f)
		ctf_float(double, f64_denorm, 4.9406564584124654e-324)
		ctf_float(double, third, 1.0 / 3.0)
	)
)
TRACEPOINT_LOGLEVEL(rttng_ref, special_floats, TRACE_NOTICE)

TRACEPOINT_EVENT(rttng_ref, strings,
	TP_ARGS(const char *, s, const char *, text, size_t, text_len),
	TP_FIELDS(
		ctf_string(str, s)
		ctf_string(empty, "")
		ctf_array_text(char, fixed_text, "fixed-text-16ch", 16)
		ctf_array_text(char, nul_padded, "ab\0\0\0\0\0\0", 8)
		ctf_sequence_text(char, var_text, text, size_t, text_len)
	)
)
TRACEPOINT_LOGLEVEL(rttng_ref, strings, TRACE_WARNING)

TRACEPOINT_EVENT(rttng_ref, arrays,
	TP_ARGS(const int32_t *, values, const uint8_t *, bytes,
		const uint16_t *, shorts, const uint32_t *, words,
		unsigned int, count),
	TP_FIELDS(
		ctf_array(int32_t, arr_s32, values, 4)
		ctf_array(uint8_t, arr_u8, bytes, 3)
		ctf_array_hex(uint16_t, arr_hex16, shorts, 2)
		ctf_array_network(uint32_t, arr_net32, words, 2)
		ctf_sequence(int32_t, seq_s32, values, unsigned int, count)
		ctf_sequence(uint8_t, seq_u8, bytes, size_t, (size_t)count)
		ctf_sequence_hex(uint8_t, seq_hex8, bytes, uint16_t, (uint16_t)count)
		ctf_sequence_network(int32_t, seq_net_s32, values, uint8_t, (uint8_t)count)
	)
)
TRACEPOINT_LOGLEVEL(rttng_ref, arrays, TRACE_ERR)

TRACEPOINT_EVENT(rttng_ref, enums,
	TP_ARGS(unsigned int, state_value, int, delta_value),
	TP_FIELDS(
		ctf_enum(rttng_ref, state, uint8_t, state8, state_value)
		ctf_enum(rttng_ref, state, uint32_t, state32, state_value)
		ctf_enum(rttng_ref, delta, int32_t, delta32, delta_value)
		ctf_enum(rttng_ref, delta, int64_t, delta64, (int64_t)delta_value * 1000)
	)
)
TRACEPOINT_LOGLEVEL(rttng_ref, enums, TRACE_CRIT)

/* An event class and two instances, one without a declared log level. */
TRACEPOINT_EVENT_CLASS(rttng_ref, tick_class,
	TP_ARGS(uint64_t, seq, const char *, label),
	TP_FIELDS(
		ctf_integer(uint64_t, seq, seq)
		ctf_string(label, label)
	)
)
TRACEPOINT_EVENT_INSTANCE(rttng_ref, tick_class, tick,
	TP_ARGS(uint64_t, seq, const char *, label))
TRACEPOINT_EVENT_INSTANCE(rttng_ref, tick_class, tock,
	TP_ARGS(uint64_t, seq, const char *, label))
TRACEPOINT_LOGLEVEL(rttng_ref, tock, TRACE_DEBUG_FUNCTION)

TRACEPOINT_EVENT(rttng_ref, empty,
	TP_ARGS(),
	TP_FIELDS()
)
TRACEPOINT_LOGLEVEL(rttng_ref, empty, TRACE_ALERT)

#endif /* RTTNG_REF_TP_H */

#include <lttng/tracepoint-event.h>

package httpfront

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	_ "google.golang.org/genproto/googleapis/rpc/errdetails" // error details in JSON error bodies
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// HTTPStatus maps a gRPC status code to the HTTP status of its answer (the
// mapping of google.rpc.Code, as grpc-gateway and Envoy apply it).
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499 // Client Closed Request
	case codes.Unknown:
		return http.StatusInternalServerError
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.FailedPrecondition:
		return http.StatusBadRequest
	case codes.Aborted:
		return http.StatusConflict
	case codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Internal:
		return http.StatusInternalServerError
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DataLoss:
		return http.StatusInternalServerError
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// statusJSON appends st as the JSON error body {"code", "message",
// "details"} (google.rpc.Status in JSON, written compactly). Details whose
// type the gateway knows are written in full (protojson); others as
// {"@type", "value"} with the value in base64.
func statusJSON(dst []byte, st *status.Status) []byte {
	p := st.Proto()
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(p.GetCode()), 10)
	dst = append(dst, `,"message":`...)
	dst = appendQuoted(dst, p.GetMessage())
	dst = append(dst, `,"details":[`...)
	for i, d := range p.GetDetails() {
		if i > 0 {
			dst = append(dst, ',')
		}
		if b, err := protojson.Marshal(d); err == nil {
			dst = append(dst, b...)
			continue
		}
		dst = append(dst, `{"@type":`...)
		dst = appendQuoted(dst, d.GetTypeUrl())
		dst = append(dst, `,"value":`...)
		dst = appendQuoted(dst, base64.StdEncoding.EncodeToString(d.GetValue()))
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendQuoted appends s as a JSON string, without escaping <, > and &.
func appendQuoted(dst []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

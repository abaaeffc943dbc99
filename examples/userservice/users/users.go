// Package users is the in-memory implementation of the example
// user.v1.UserService (see proto/user/v1/user.proto). It is transport
// agnostic: the same *Service is served over gRPC by examples/userservice and
// can be served over MCP/1 by any server that accepts a
// userv1.UserServiceServer.
//
// A new Service is seeded with two users, "1" (Alice, 30) and "2" (Bob, 25).
// All methods are safe for concurrent use.
//
// # Capacity
//
// The directory holds at most a fixed number of users (DefaultMaxUsers for
// New, or the value given to NewWithMaxUsers). ImportUsers answers
// RESOURCE_EXHAUSTED for an entry that would add a user past that bound;
// replacing an existing user is always allowed. This bounds the memory a
// client can make the example server hold.
//
// # Ordering
//
// ListUsers returns users ordered by user_id: ids made only of ASCII digits
// ("numeric" ids) come first, in numeric order ("2" before "10"; equal
// values such as "7" and "007" in lexical order), followed by all other ids in
// lexical (byte-wise) order.
//
// # Errors
//
// Every error a method returns is a gRPC status error:
// INVALID_ARGUMENT (empty user_id, negative limit), NOT_FOUND (GetUser of an
// unknown id), RESOURCE_EXHAUSTED (capacity reached), or the status of the
// underlying stream or context.
package users

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
)

// DefaultMaxUsers is the capacity of a Service created by New.
const DefaultMaxUsers = 100_000

// user is the stored form of a user; its id is the map key.
type user struct {
	name string
	age  int32
}

// Service implements userv1.UserServiceServer over a mutex-protected map.
// Create it with New or NewWithMaxUsers; the zero value is not usable.
type Service struct {
	userv1.UnimplementedUserServiceServer

	maxUsers int

	mu    sync.RWMutex
	users map[string]user // guarded by mu; len(users) <= max(maxUsers, seeds)
}

var _ userv1.UserServiceServer = (*Service)(nil)

// New returns a Service seeded with users "1" (Alice, 30) and "2" (Bob, 25)
// and a capacity of DefaultMaxUsers.
func New() *Service {
	return NewWithMaxUsers(DefaultMaxUsers)
}

// NewWithMaxUsers is like New but caps the directory at maxUsers users
// (DefaultMaxUsers if maxUsers <= 0). The two seed users are always present
// and count towards the cap.
func NewWithMaxUsers(maxUsers int) *Service {
	if maxUsers <= 0 {
		maxUsers = DefaultMaxUsers
	}
	return &Service{
		maxUsers: maxUsers,
		users: map[string]user{
			"1": {name: "Alice", age: 30},
			"2": {name: "Bob", age: 25},
		},
	}
}

// GetUser returns the user with req.user_id: INVALID_ARGUMENT if it is empty,
// NOT_FOUND if there is no such user.
func (s *Service) GetUser(_ context.Context, req *userv1.UserRequest) (*userv1.UserResponse, error) {
	id := req.GetUserId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "user_id is required")
	}
	s.mu.RLock()
	u, ok := s.users[id]
	s.mu.RUnlock()
	if !ok {
		return nil, status.Error(codes.NotFound, fmt.Sprintf("user %s not found", id))
	}
	return &userv1.UserResponse{UserId: id, Name: u.name, Age: u.age}, nil
}

// ListUsers streams the users in the package's id order (see the package
// documentation), at most req.limit of them (0 = all; negative =
// INVALID_ARGUMENT). It works on a snapshot taken when the call starts and
// stops early with the context's status once the stream's context is done.
func (s *Service) ListUsers(req *userv1.ListUsersRequest, stream grpc.ServerStreamingServer[userv1.UserResponse]) error {
	limit := int(req.GetLimit())
	if limit < 0 {
		return status.Errorf(codes.InvalidArgument, "limit must be >= 0, got %d", limit)
	}
	ctx := stream.Context()

	s.mu.RLock()
	snapshot := make([]*userv1.UserResponse, 0, len(s.users))
	for id, u := range s.users {
		snapshot = append(snapshot, &userv1.UserResponse{UserId: id, Name: u.name, Age: u.age})
	}
	s.mu.RUnlock()

	slices.SortFunc(snapshot, func(a, b *userv1.UserResponse) int {
		return compareIDs(a.GetUserId(), b.GetUserId())
	})
	if limit > 0 && limit < len(snapshot) {
		snapshot = snapshot[:limit]
	}
	for _, u := range snapshot {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		if err := stream.Send(u); err != nil {
			return err
		}
	}
	return nil
}

// ImportUsers reads entries until the client half-closes, adding each user or
// replacing the user with the same id, and then answers with the number of
// entries imported. An entry with an empty user_id is INVALID_ARGUMENT and
// an entry that would grow the directory past its capacity is
// RESOURCE_EXHAUSTED; both errors name the entry's zero-based index, and the
// entries before it stay imported.
func (s *Service) ImportUsers(stream grpc.ClientStreamingServer[userv1.ImportUserRequest, userv1.ImportUsersResponse]) error {
	var imported int32
	for i := 0; ; i++ {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&userv1.ImportUsersResponse{Imported: imported})
		}
		if err != nil {
			return err
		}
		if imported == math.MaxInt32 {
			return status.Errorf(codes.ResourceExhausted, "entry %d: too many entries in one call (max %d)", i, math.MaxInt32)
		}
		id := req.GetUserId()
		if id == "" {
			return status.Errorf(codes.InvalidArgument, "entry %d: user_id is required", i)
		}
		if !s.put(id, user{name: req.GetName(), age: req.GetAge()}) {
			return status.Errorf(codes.ResourceExhausted, "entry %d: user directory is full (max %d users)", i, s.maxUsers)
		}
		imported++
	}
}

// put stores u under id and reports whether it did; it refuses to add a new
// id once the directory holds maxUsers users.
func (s *Service) put(id string, u user) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.users[id]; !exists && len(s.users) >= s.maxUsers {
		return false
	}
	s.users[id] = u
	return true
}

// Chat echoes every received message back unchanged, in order, and returns
// once the client half-closes.
func (s *Service) Chat(stream grpc.BidiStreamingServer[userv1.ChatMessage, userv1.ChatMessage]) error {
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&userv1.ChatMessage{From: msg.GetFrom(), Text: msg.GetText()}); err != nil {
			return err
		}
	}
}

// compareIDs orders user ids: numeric ids (non-empty, ASCII digits only)
// before all others and by numeric value, ties and non-numeric ids
// lexically. It handles numbers of any length without overflow.
func compareIDs(a, b string) int {
	an, bn := isNumeric(a), isNumeric(b)
	switch {
	case an && bn:
		ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if c := len(ta) - len(tb); c != 0 {
			return c
		}
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// isNumeric reports whether id is non-empty and consists of ASCII digits.
func isNumeric(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

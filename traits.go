package analytics

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tracklane/analytics/internal/jsonw"
)

// Typed traits: the reserved traits of the Identify and Group specs, with
// their names and JSON types, so that Customer.io, Drift, the warehouse's
// users and groups tables and every other destination that maps reserved
// traits receive them as Segment documents them
// (https://segment.com/docs/connections/spec/identify/#traits,
// https://segment.com/docs/connections/spec/group/#traits).
//
// They coexist with the untyped Traits map the same way an ecommerce
// event's typed properties coexist with Track.Properties:
//
//   - Identify.User (Group.Account) holds the reserved traits; zero fields
//     are not sent. They are written first, in the spec table's order.
//   - Identify.Traits (Group.Traits) holds custom traits, merged after the
//     typed ones, keys sorted.
//   - When any typed trait is set, a custom key that names a reserved trait
//     makes Enqueue fail with a *ValidationError wrapping
//     ErrPropertyConflict, whatever its value and whether or not that
//     typed field is set, so that a trait is never sent twice nor under
//     two spellings. The match ignores case and underscores ("first_name",
//     "FirstName" and "firstname" all name firstName): Segment accepts both
//     camelCase and snake_case, and sending both makes two traits downstream.
//   - When no typed trait is set, Traits is sent as it is, exactly as before
//     typed traits existed (no name or type checking beyond JSON validity).

// UserTraits are the reserved traits of an Identify call. Every field is
// optional; a zero field is not sent.
type UserTraits struct {
	Address     *Address  // address: street address; nil or all empty: not sent
	Age         int       // age (number); 0: not sent; negative: invalid
	Avatar      string    // avatar: URL of an avatar image
	Birthday    time.Time // birthday (date): sent as midnight UTC of its calendar date in its own location, e.g. "1990-05-17T00:00:00.000Z"; zero: not sent; a year outside 1-9999: invalid
	Company     *Company  // company the user represents; nil or all empty: not sent
	CreatedAt   time.Time // createdAt (date): when the account was created, ISO-8601 in UTC with milliseconds; zero: not sent; a year outside 1-9999: invalid
	Description string    // description of the user
	Email       string    // email address
	FirstName   string    // firstName
	Gender      string    // gender
	ID          string    // id: unique id in your database
	LastName    string    // lastName
	Name        string    // name: full name (Segment fills it from firstName and lastName when only those are sent)
	Phone       string    // phone number
	Title       string    // title, e.g. "VP of Engineering"
	Username    string    // username, unique per user
	Website     string    // website
}

// GroupTraits are the reserved traits of a Group call. Every field is
// optional; a zero field is not sent.
type GroupTraits struct {
	Address     *Address  // address: street address; nil or all empty: not sent
	Avatar      string    // avatar: URL of an avatar image
	CreatedAt   time.Time // createdAt (date): when the account was created, ISO-8601 in UTC with milliseconds; zero: not sent; a year outside 1-9999: invalid
	Description string    // description of the group
	Email       string    // email address
	Employees   string    // employees: number of employees, a string as the spec types it ("329", "50-100")
	ID          string    // id: unique id in your database
	Industry    string    // industry
	Name        string    // name of the group
	Phone       string    // phone number
	Website     string    // website
	Plan        string    // plan the group is on
}

// Address is the address trait of a user or group.
type Address struct {
	City       string // city
	Country    string // country
	PostalCode string // postalCode
	State      string // state
	Street     string // street
}

// Company is the company trait of a user.
type Company struct {
	Name          string // name
	ID            string // id (the spec allows a string or a number; sent as a string)
	Industry      string // industry
	EmployeeCount int    // employee_count (number); 0: not sent; negative: invalid
	Plan          string // plan
}

// userTraitNames and groupTraitNames are the reserved traits in their
// normalised form (lower case, no underscores); see normTrait.
var (
	userTraitNames = [...]string{"address", "age", "avatar", "birthday", "company", "createdat", "description",
		"email", "firstname", "gender", "id", "lastname", "name", "phone", "title", "username", "website"}
	groupTraitNames = [...]string{"address", "avatar", "createdat", "description", "email", "employees", "id",
		"industry", "name", "phone", "website", "plan"}
)

// normTrait folds case and removes underscores: "first_name" -> "firstname".
func normTrait(k string) string {
	if !strings.ContainsFunc(k, func(r rune) bool { return r == '_' || r >= 'A' && r <= 'Z' }) {
		return k
	}
	return strings.ToLower(strings.ReplaceAll(k, "_", ""))
}

func isUserTrait(k string) bool {
	n := normTrait(k)
	for _, t := range userTraitNames {
		if t == n {
			return true
		}
	}
	return false
}

func isGroupTrait(k string) bool {
	n := normTrait(k)
	for _, t := range groupTraitNames {
		if t == n {
			return true
		}
	}
	return false
}

func (a *Address) isZero() bool { return a == nil || *a == Address{} }
func (c *Company) isZero() bool { return c == nil || *c == Company{} }

func (u *UserTraits) isZero() bool {
	return u.Address.isZero() && u.Age == 0 && u.Avatar == "" && u.Birthday.IsZero() && u.Company.isZero() &&
		u.CreatedAt.IsZero() && u.Description == "" && u.Email == "" && u.FirstName == "" && u.Gender == "" &&
		u.ID == "" && u.LastName == "" && u.Name == "" && u.Phone == "" && u.Title == "" && u.Username == "" &&
		u.Website == ""
}

func (g *GroupTraits) isZero() bool {
	return g.Address.isZero() && g.Avatar == "" && g.CreatedAt.IsZero() && g.Description == "" && g.Email == "" &&
		g.Employees == "" && g.ID == "" && g.Industry == "" && g.Name == "" && g.Phone == "" && g.Website == "" &&
		g.Plan == ""
}

// errNegative is wrapped with ErrInvalidValue for a negative count.
var errNegative = errors.New("must not be negative")

func checkYear(field string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return &fieldError{Field: field, Err: fmt.Errorf("%w: year %d is outside 0001-9999", ErrInvalidValue, y)}
	}
	return nil
}

func (u *UserTraits) validate() error {
	if u.Age < 0 {
		return &fieldError{Field: "age", Err: fmt.Errorf("%w: %w", ErrInvalidValue, errNegative)}
	}
	if u.Company != nil && u.Company.EmployeeCount < 0 {
		return &fieldError{Field: "company.employee_count", Err: fmt.Errorf("%w: %w", ErrInvalidValue, errNegative)}
	}
	if err := checkYear("birthday", u.Birthday); err != nil {
		return err
	}
	return checkYear("createdAt", u.CreatedAt)
}

func (g *GroupTraits) validate() error { return checkYear("createdAt", g.CreatedAt) }

// birthdayUTC is midnight UTC of t's calendar date in t's own location.
func birthdayUTC(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// encodeTraits writes the members of u into the open traits object.
func (u *UserTraits) encodeTraits(w *jsonw.Writer) {
	encodeAddress(w, u.Address)
	if u.Age != 0 {
		w.IntMember(`"age":`, int64(u.Age))
	}
	optString(w, `"avatar":`, u.Avatar)
	if !u.Birthday.IsZero() {
		w.Field("birthday")
		w.Time(birthdayUTC(u.Birthday))
	}
	if c := u.Company; !c.isZero() {
		objectStart(w, "company")
		optString(w, `"name":`, c.Name)
		optString(w, `"id":`, c.ID)
		optString(w, `"industry":`, c.Industry)
		if c.EmployeeCount != 0 {
			w.IntMember(`"employee_count":`, int64(c.EmployeeCount))
		}
		optString(w, `"plan":`, c.Plan)
		objectEnd(w)
	}
	if !u.CreatedAt.IsZero() {
		w.Field("createdAt")
		w.Time(u.CreatedAt)
	}
	optString(w, `"description":`, u.Description)
	optString(w, `"email":`, u.Email)
	optString(w, `"firstName":`, u.FirstName)
	optString(w, `"gender":`, u.Gender)
	optString(w, `"id":`, u.ID)
	optString(w, `"lastName":`, u.LastName)
	optString(w, `"name":`, u.Name)
	optString(w, `"phone":`, u.Phone)
	optString(w, `"title":`, u.Title)
	optString(w, `"username":`, u.Username)
	optString(w, `"website":`, u.Website)
}

// encodeTraits writes the members of g into the open traits object.
func (g *GroupTraits) encodeTraits(w *jsonw.Writer) {
	encodeAddress(w, g.Address)
	optString(w, `"avatar":`, g.Avatar)
	if !g.CreatedAt.IsZero() {
		w.Field("createdAt")
		w.Time(g.CreatedAt)
	}
	optString(w, `"description":`, g.Description)
	optString(w, `"email":`, g.Email)
	optString(w, `"employees":`, g.Employees)
	optString(w, `"id":`, g.ID)
	optString(w, `"industry":`, g.Industry)
	optString(w, `"name":`, g.Name)
	optString(w, `"phone":`, g.Phone)
	optString(w, `"website":`, g.Website)
	optString(w, `"plan":`, g.Plan)
}

func encodeAddress(w *jsonw.Writer, a *Address) {
	if a.isZero() {
		return
	}
	objectStart(w, "address")
	optString(w, `"city":`, a.City)
	optString(w, `"country":`, a.Country)
	optString(w, `"postalCode":`, a.PostalCode)
	optString(w, `"state":`, a.State)
	optString(w, `"street":`, a.Street)
	objectEnd(w)
}

package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Config vars live where Dokku 0.38+ keeps them (plugins/config/environment.go,
// getAppFile/getGlobalFile): LibDir/config/<app>/ENV and
// LibDir/config/--global/ENV, mode 0600, in the dotenv format Dokku's config
// plugin reads and writes with github.com/joho/godotenv v1.5.1. Before 0.38
// they were RootDir/<app>/ENV and RootDir/ENV; Dokku's install trigger drains
// those into the new place once and records config/<app>/env-migrated=true
// (plugins/config/migrate.go). This store does the same drain lazily: a legacy
// file is read (its values win, as in Dokku's drain) until the migration is on
// record, and the first write records it and removes the legacy file.

// envMigratedProperty is Dokku's record that the legacy ENV file was drained.
const envMigratedProperty = "env-migrated"

// EnvPath is the app's (or, for Global, the global) ENV file.
func (s *Store) EnvPath(app string) string {
	return filepath.Join(s.Paths.LibDir, "config", app, "ENV")
}

// legacyEnvPath is the pre-0.38 place of the ENV file.
func (s *Store) legacyEnvPath(app string) string {
	if app == Global {
		return filepath.Join(s.Paths.RootDir, "ENV")
	}
	return filepath.Join(s.Paths.RootDir, app, "ENV")
}

// InvalidKeyError is Dokku's refusal of a config var name.
type InvalidKeyError struct{ Key string }

func (e *InvalidKeyError) Error() string { return fmt.Sprintf("Invalid key name: '%s'", e.Key) }

// ValidEnvKey reports whether key is acceptable to Dokku's config plugin:
// ^[a-zA-Z_][a-zA-Z0-9_]*$.
func ValidEnvKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// CheckEnvKeys returns an *InvalidKeyError for the first invalid key.
func CheckEnvKeys(keys []string) error {
	for _, k := range keys {
		if !ValidEnvKey(k) {
			return &InvalidKeyError{Key: k}
		}
	}
	return nil
}

// EnvFileError is an ENV file that does not parse. Its message is the
// parser's alone, which is what Dokku prints.
type EnvFileError struct {
	Path string
	Err  error
}

func (e *EnvFileError) Error() string { return e.Err.Error() }
func (e *EnvFileError) Unwrap() error { return e.Err }

// UnstorableValueError is a value that no line of Dokku's ENV format reads
// back unchanged (see MarshalEnvFile).
type UnstorableValueError struct{ Key string }

func (e *UnstorableValueError) Error() string {
	return fmt.Sprintf("Unable to store %s: Dokku's ENV file format cannot hold this value unchanged", e.Key)
}

// InvalidValueError is a config value refused before anything is written.
type InvalidValueError struct{ Key, Reason string }

func (e *InvalidValueError) Error() string {
	return fmt.Sprintf("Unable to store %s: the value %s", e.Key, e.Reason)
}

// CheckEnvValues refuses, for the first offending key in key order, a value
// with a NUL byte (no process environment can hold one: it ends a C string)
// and a value that is not UTF-8 (JSON, which config:export and the json
// formats speak, can only carry such bytes changed to U+FFFD, so the value
// would not come back byte for byte).
func CheckEnvValues(vars map[string]string) error {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := vars[k]; {
		case strings.IndexByte(v, 0) >= 0:
			return &InvalidValueError{Key: k, Reason: "contains a NUL byte"}
		case !utf8.ValidString(v):
			return &InvalidValueError{Key: k, Reason: "is not valid UTF-8"}
		}
	}
	return nil
}

func (s *Store) checkEnvTarget(app string) error {
	if app != Global && !ValidAppName(app) {
		return fmt.Errorf("store: config: invalid app name %q", app)
	}
	return nil
}

// readEnvFile parses path; a missing file is an empty environment.
func readEnvFile(path string) (env map[string]string, exists bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: read %s: %w", path, err)
	}
	env, err = ParseEnvFile(b)
	if err != nil {
		return nil, true, &EnvFileError{Path: path, Err: err}
	}
	return env, true, nil
}

// loadEnv reads app's environment; drained reports that a legacy file was
// merged in and still has to be removed on the next write.
func (s *Store) loadEnv(app string) (env map[string]string, migrated, drained bool, err error) {
	if err := s.checkEnvTarget(app); err != nil {
		return nil, false, false, err
	}
	env, _, err = readEnvFile(s.EnvPath(app))
	if err != nil {
		return nil, false, false, err
	}
	m, err := s.Property("config", app, envMigratedProperty)
	if err != nil {
		return nil, false, false, err
	}
	migrated = m == "true"
	if !migrated {
		old, exists, err := readEnvFile(s.legacyEnvPath(app))
		if err != nil {
			return nil, false, false, err
		}
		if exists {
			for k, v := range old {
				env[k] = v
			}
			drained = true
		}
	}
	// Dokku deletes keys it would refuse from a file it loads.
	for k := range env {
		if !ValidEnvKey(k) {
			delete(env, k)
		}
	}
	return env, migrated, drained, nil
}

// Env returns the app's config vars (app may be Global). A missing file is an
// empty environment.
func (s *Store) Env(app string) (map[string]string, error) {
	env, _, _, err := s.loadEnv(app)
	return env, err
}

// MergedEnv returns the global config vars overlaid with the app's, as
// Dokku's --merged and deploys see them.
func (s *Store) MergedEnv(app string) (map[string]string, error) {
	g, err := s.Env(Global)
	if err != nil || app == Global {
		return g, err
	}
	a, err := s.Env(app)
	if err != nil {
		return nil, err
	}
	for k, v := range a {
		g[k] = v
	}
	return g, nil
}

// UpdateEnv runs fn on the app's environment under the app lock and writes
// the result when fn reports a change. fn must not call back into the store
// for the same app's config.
func (s *Store) UpdateEnv(app string, fn func(env map[string]string) (changed bool, err error)) error {
	if err := s.checkEnvTarget(app); err != nil {
		return err
	}
	unlock, err := s.AppLock(app)
	if err != nil {
		return err
	}
	defer unlock()
	env, migrated, drained, err := s.loadEnv(app)
	if err != nil {
		return err
	}
	changed, err := fn(env)
	if err != nil || !changed {
		return err
	}
	return s.writeEnv(app, env, migrated, drained)
}

func (s *Store) writeEnv(app string, env map[string]string, migrated, drained bool) error {
	data, err := MarshalEnvFile(env)
	if err != nil {
		return err
	}
	p := s.EnvPath(app)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("store: write config of %s: %w", app, err)
	}
	if err := WriteFileAtomic(p, data, 0o600); err != nil {
		return fmt.Errorf("store: write config of %s: %w", app, err)
	}
	if !migrated {
		if err := s.SetProperty("config", app, envMigratedProperty, "true"); err != nil {
			return err
		}
	}
	if drained {
		if err := os.Remove(s.legacyEnvPath(app)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: remove migrated %s: %w", s.legacyEnvPath(app), err)
		}
	}
	return nil
}

// SetEnv merges vars into the app's environment, in Dokku's order: the
// file is read first (a broken one is an *EnvFileError), then every key
// must be valid (*InvalidKeyError) and every value storable
// (*InvalidValueError, *UnstorableValueError). Nothing is written when one
// is refused (see IsRefusal).
func (s *Store) SetEnv(app string, vars map[string]string) error {
	return s.UpdateEnv(app, func(env map[string]string) (bool, error) {
		if err := CheckEnvVars(vars); err != nil {
			return false, err
		}
		for k, v := range vars {
			env[k] = v
		}
		return true, nil
	})
}

// CheckEnvVars refuses vars as Dokku's config:set does, in its order:
// every key must be valid (*InvalidKeyError, the first in sorted order),
// then every value (*InvalidValueError), then the ENV file must be able to
// hold them (*UnstorableValueError). Callers check before they print.
func CheckEnvVars(vars map[string]string) error {
	if err := CheckEnvKeys(slices.Sorted(maps.Keys(vars))); err != nil {
		return err
	}
	if err := CheckEnvValues(vars); err != nil {
		return err
	}
	if len(vars) == 0 {
		return nil
	}
	_, err := MarshalEnvFile(vars)
	return err
}

// IsRefusal reports whether err is the config store refusing what it was
// asked to read or write: an invalid key or value, a value the ENV format
// cannot hold, an ENV file that does not parse. Its text is Dokku's
// message for the user, not a fault of the server.
func IsRefusal(err error) bool {
	var (
		ik *InvalidKeyError
		iv *InvalidValueError
		uv *UnstorableValueError
		fe *EnvFileError
	)
	return errors.As(err, &ik) || errors.As(err, &iv) || errors.As(err, &uv) || errors.As(err, &fe)
}

// UnsetEnv removes keys from the app's environment; unset keys are skipped.
func (s *Store) UnsetEnv(app string, keys []string) error {
	if err := CheckEnvKeys(keys); err != nil {
		return err
	}
	return s.UpdateEnv(app, func(env map[string]string) (bool, error) {
		changed := false
		for _, k := range keys {
			if _, ok := env[k]; ok {
				delete(env, k)
				changed = true
			}
		}
		return changed, nil
	})
}

// ClearEnv removes every config var of the app.
func (s *Store) ClearEnv(app string) error {
	return s.UpdateEnv(app, func(env map[string]string) (bool, error) {
		changed := len(env) > 0
		clear(env)
		return changed, nil
	})
}

// CopyEnv merges from's config vars into to's, what Dokku's config plugin
// does on post-app-clone-setup and post-app-rename-setup. It does not take
// the app lock: it is meant for apps:clone and apps:rename, which hold both
// apps' locks already (taking it again would deadlock).
func (s *Store) CopyEnv(from, to string) error {
	old, err := s.Env(from)
	if err != nil || len(old) == 0 {
		return err
	}
	env, migrated, drained, err := s.loadEnv(to)
	if err != nil {
		return err
	}
	for k, v := range old {
		env[k] = v
	}
	return s.writeEnv(to, env, migrated, drained)
}

// DeleteEnv removes the app's ENV file (and its directory when that is then
// empty), for apps:destroy; like CopyEnv it takes no lock. Dokku's
// post-delete removes the whole LibDir/config/<app> directory, which for an
// app named like a plugin (git, apps, ...) is that plugin's property tree:
// only the ENV file is removed here.
func (s *Store) DeleteEnv(app string) error {
	if app == Global || !ValidAppName(app) {
		return fmt.Errorf("store: delete config: invalid app name %q", app)
	}
	p := s.EnvPath(app)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: delete config of %s: %w", app, err)
	}
	_ = os.Remove(filepath.Dir(p)) // fails, as it should, when not empty
	return nil
}

// ---- Dokku's ENV file format --------------------------------------------
//
// Dokku reads and writes the file with godotenv v1.5.1. Writing: one
// `KEY=<int>` line for values that are an integer in canonical form, else
// `KEY="<value>"` with \ " ! $ ` backslash-escaped and CR/LF as \r/\n; lines
// sorted as strings; a final newline. That form does not read back unchanged
// for every value: godotenv's reader turns "007" written as 7 into 7, strips
// a trailing \" and takes an escaped trailing backslash for an escaped
// closing quote (a file Dokku writes for such a value loses it, and the lines
// after it). MarshalEnvFile writes Dokku's exact line whenever it reads back
// unchanged, otherwise the first of these that does: "value" (no int form),
// "value"" (godotenv trims the extra quote), 'value', and a bare value with
// every $ escaped. A value none of them holds is refused rather than stored
// damaged: one that ends in a double quote, has a single quote or a CR LF,
// and also has a line break, invalid UTF-8, a leading quote or blank, or a
// blank before a #.

// MarshalEnvFile renders env as an ENV file Dokku's reader (and ParseEnvFile)
// reads back to exactly env.
func MarshalEnvFile(env map[string]string) ([]byte, error) {
	lines := make([]string, 0, len(env))
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !ValidEnvKey(k) {
			return nil, &InvalidKeyError{Key: k}
		}
		line, ok := envLine(k, env[k])
		if !ok {
			return nil, &UnstorableValueError{Key: k}
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	data := []byte(strings.Join(lines, "\n") + "\n")
	// Belt and braces: never write what would not read back as env.
	back, err := ParseEnvFile(data)
	if err != nil || len(back) != len(env) {
		return nil, fmt.Errorf("store: config: the ENV file would not read back (%v)", err)
	}
	for k, v := range env {
		if bv, ok := back[k]; !ok || bv != v {
			return nil, &UnstorableValueError{Key: k}
		}
	}
	return data, nil
}

// DokkuEnvfile is what Dokku writes for env (godotenv.Marshal): the lines
// of `config:export --format envfile`, without the final newline. Unlike
// MarshalEnvFile it is not always read back unchanged.
func DokkuEnvfile(env map[string]string) string {
	lines := make([]string, 0, len(env))
	for k, v := range env {
		if n, err := strconv.Atoi(v); err == nil {
			lines = append(lines, k+"="+strconv.Itoa(n))
		} else {
			lines = append(lines, k+`="`+dotenvEscape(v)+`"`)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// envLine picks the line for one variable (see MarshalEnvFile).
func envLine(k, v string) (string, bool) {
	if n, err := strconv.Atoi(v); err == nil && strconv.Itoa(n) == v {
		return k + "=" + v, true
	}
	dq := k + `="` + dotenvEscape(v) + `"`
	candidates := []string{
		dq,
		// a closing quote after an escaped one: godotenv trims it off again
		dq + `"`,
		k + "='" + v + "'",
		k + "=" + strings.ReplaceAll(v, "$", `\$`),
	}
	for _, line := range candidates {
		got, err := ParseEnvFile([]byte(line + "\n"))
		if err == nil && len(got) == 1 {
			if gv, ok := got[k]; ok && gv == v {
				return line, true
			}
		}
	}
	return "", false
}

// dotenvEscape is godotenv's escaping inside double quotes.
func dotenvEscape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"', '!', '$', '`':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ParseEnvFile reads an ENV (dotenv) file the way Dokku's config plugin does
// (godotenv v1.5.1), quirks and error messages included: `export ` prefixes,
// `#` comments, KEY=value, KEY: value, single quotes taken literally, double
// quotes with \n, \r and backslash escapes, and $VAR / ${VAR} expanded from
// the variables above in the same file (never from the process environment)
// in double-quoted and bare values. Keys are returned as found; callers drop
// the ones ValidEnvKey refuses, as Dokku does.
func ParseEnvFile(src []byte) (map[string]string, error) {
	out := map[string]string{}
	rest := bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
	for {
		rest = nextStatement(rest)
		if rest == nil {
			return out, nil
		}
		key, after, err := parseEnvKey(rest)
		if err != nil {
			return nil, err
		}
		value, after, err := parseEnvValue(after, out)
		if err != nil {
			return nil, err
		}
		out[key] = value
		rest = after
	}
}

// dotenvBlank is godotenv's idea of a blank: no line breaks.
func dotenvBlank(r rune) bool {
	switch r {
	case '\t', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return false
}

// nextStatement skips blank space and comment lines; nil at the end.
func nextStatement(src []byte) []byte {
	for {
		i := bytes.IndexFunc(src, func(r rune) bool { return !unicode.IsSpace(r) })
		if i < 0 {
			return nil
		}
		src = src[i:]
		if src[0] != '#' {
			return src
		}
		nl := bytes.IndexByte(src, '\n')
		if nl < 0 {
			return nil
		}
		src = src[nl:]
	}
}

// parseEnvKey reads `[export ]KEY=` or `KEY:` and returns the key and what
// follows the separator, blanks skipped.
func parseEnvKey(src []byte) (string, []byte, error) {
	src = bytes.TrimLeftFunc(src, dotenvBlank)
	if rest, ok := bytes.CutPrefix(src, []byte("export")); ok && bytes.IndexFunc(rest, dotenvBlank) == 0 {
		src = bytes.TrimLeftFunc(rest, dotenvBlank)
	}
	sep := -1
scan:
	for i := 0; i < len(src); i++ {
		c := src[i]
		r := rune(c) // byte by byte, as godotenv does
		switch {
		case dotenvBlank(r):
		case c == '=' || c == ':':
			sep = i
			break scan
		case c == '_' || c == '.' || unicode.IsLetter(r) || unicode.IsNumber(r):
		default:
			return "", nil, fmt.Errorf("unexpected character %q in variable name near %q", string(r), string(src))
		}
	}
	if len(src) == 0 {
		return "", nil, errors.New("zero length string")
	}
	key, rest := "", src
	if sep >= 0 {
		key, rest = string(src[:sep]), src[sep+1:]
	}
	return strings.TrimRightFunc(key, unicode.IsSpace), bytes.TrimLeftFunc(rest, dotenvBlank), nil
}

// parseEnvValue reads one value and returns it with the rest of the input.
func parseEnvValue(src []byte, vars map[string]string) (string, []byte, error) {
	if len(src) > 0 && (src[0] == '"' || src[0] == '\'') {
		q := src[0]
		for i := 1; i < len(src); i++ {
			if src[i] != q || src[i-1] == '\\' {
				continue
			}
			isQ := func(r rune) bool { return r == rune(q) }
			v := string(bytes.TrimLeftFunc(bytes.TrimRightFunc(src[:i], isQ), isQ))
			if q == '"' {
				v = expandEnvVars(unescapeDoubleQuoted(v), vars)
			}
			return v, src[i+1:], nil
		}
		end := bytes.IndexByte(src, '\n')
		if end < 0 {
			end = len(src)
		}
		return "", nil, fmt.Errorf("unterminated quoted value %s", src[:end])
	}
	eol := bytes.IndexAny(src, "\n\r")
	if eol < 0 {
		eol = len(src)
		if eol == 0 {
			return "", nil, nil
		}
	}
	line := []rune(string(src[:eol]))
	end := len(line)
	if end == 0 {
		return "", src[eol:], nil
	}
	// a comment starts at the last blank-preceded #
	for i := end - 1; i > 0; i-- {
		if line[i] == '#' && dotenvBlank(line[i-1]) {
			end = i
			break
		}
	}
	v := strings.TrimFunc(string(line[:end]), dotenvBlank)
	return expandEnvVars(v, vars), src[eol:], nil
}

// unescapeDoubleQuoted turns \n and \r into line breaks, then drops the
// backslash of every other escape except \$ (left for expandEnvVars).
func unescapeDoubleQuoted(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] != '\n' {
			_, n := utf8.DecodeRuneInString(s[i+1:])
			switch s[i+1] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteString(s[i : i+1+n])
			}
			i += 1 + n
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	s, b = b.String(), strings.Builder{}
	for i := 0; i < len(s); {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] != '$' {
			_, n := utf8.DecodeRuneInString(s[i+1:])
			b.WriteString(s[i+1 : i+1+n])
			i += 1 + n
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// expandEnvVars replaces $NAME, ${NAME} and $(NAME (NAME of [A-Z0-9_]) with
// the value of NAME defined earlier in the file ("" when it is not), and
// \$... with $... . Other dollars stay.
func expandEnvVars(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		start, escaped := i, false
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '$':
			escaped = true
			i += 2
		case s[i] == '$':
			i++
		default:
			b.WriteByte(s[i])
			i++
			continue
		}
		if i < len(s) && s[i] == '(' {
			i++
		}
		if i < len(s) && s[i] == '{' {
			i++
		}
		nameStart := i
		for i < len(s) && (s[i] == '_' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
			i++
		}
		name := s[nameStart:i]
		if i < len(s) && s[i] == '}' {
			i++
		}
		switch {
		case escaped:
			b.WriteString(s[start+1 : i])
		case name != "":
			b.WriteString(vars[name])
		default:
			b.WriteString(s[start:i])
		}
	}
	return b.String()
}

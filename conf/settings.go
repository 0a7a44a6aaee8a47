package conf

import (
	"fmt"
	"os"
	"slices"
)

// JobSettings are what a ganger.toml beside a Procfile adds to one of its
// entries: a [[job]] table naming the entry, with any field of a job
// config but those the Procfile and the project decide (cmd, session,
// shell, cwd). `ganger start` applies them over the job it builds from the
// entry, before the command line's formation.
type JobSettings struct {
	Name   string         // the Procfile entry
	fields map[string]any // the table, without name
	where  string         // "ganger.toml: job[1] (web)", for errors
}

// projectFields are the job fields a ganger.toml may not set.
var projectFields = []string{"cmd", "session", "shell", "cwd"}

// ParseJobSettings parses a ganger.toml: only [[job]] tables, each with a
// name. Every problem is reported at once, each prefixed with filename
// and the table ("ganger.toml: job[1] (web): …"): a TOML syntax error, a
// key other than job, a table without a name or naming an entry twice, a
// field the Procfile decides. The values themselves are checked by Apply,
// where the Procfile's job is known. The error has the code EINVALID.
func ParseJobSettings(data []byte, filename string) ([]JobSettings, error) {
	doc, err := decodeTOML(data, filename)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, k := range unknownKeys(doc, func(k string) bool { return k == "job" }) {
		errs = append(errs, fmt.Errorf("%s: unknown key %q: a ganger.toml beside a Procfile holds [[job]] tables only", filename, k))
	}
	var out []JobSettings
	if v, ok := doc["job"]; ok {
		tables, ok := tomlTables(v)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: job: want an array of tables ([[job]]), got %s", filename, typeName(v)))
		}
		seen := map[string]int{}
		for i, t := range tables {
			where := fmt.Sprintf("%s: job[%d]", filename, i)
			name, _ := t["name"].(string)
			if name == "" {
				errs = append(errs, fmt.Errorf("%s: field \"name\" is required: the Procfile entry the settings are for", where))
				continue
			}
			where += " (" + name + ")"
			if first, dup := seen[name]; dup {
				errs = append(errs, fmt.Errorf("%s: job %q is set twice (also job[%d])", where, name, first))
				continue
			}
			seen[name] = i
			fields := map[string]any{}
			for k, v := range t {
				switch {
				case k == "name":
				case slices.Contains(projectFields, k):
					errs = append(errs, fmt.Errorf("%s: field %q comes from the Procfile and the project, not from ganger.toml", where, k))
				default:
					fields[k] = v
				}
			}
			out = append(out, JobSettings{Name: name, fields: fields, where: where})
		}
	}
	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	return out, nil
}

// LoadJobSettings reads and parses the ganger.toml at path (see
// ParseJobSettings). A read error is returned wrapped (errors.Is(err,
// fs.ErrNotExist) works).
func LoadJobSettings(path string) ([]JobSettings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return ParseJobSettings(data, path)
}

// Has reports whether the settings set field (a job config key).
func (s JobSettings) Has(field string) bool {
	_, ok := s.fields[field]
	return ok
}

// Apply returns j with the settings' fields decoded over it, validated as
// a whole. Errors name the file, the table and each field; the code is
// EINVALID.
func (s JobSettings) Apply(j Job) (Job, error) {
	out, errs := jobOver(j, s.fields)
	if len(errs) > 0 {
		for i, err := range errs {
			errs[i] = fmt.Errorf("%s: %w", s.where, err)
		}
		return Job{}, invalid(errs)
	}
	return out, nil
}

using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Parsing;

namespace Thaw.Runtimes;

/// <summary>TOML as thaw.toml and thawd.toml read it: every syntax error by line, a key set twice refused.</summary>
public static class TomlText
{
    /// <summary>The document's table; throws a <see cref="FormatException"/> "not valid TOML: line L, column C: …".</summary>
    public static TomlTable Parse(string toml, string fileName)
    {
        // The syntax tree first: it names every error by line, duplicate keys included (TOML forbids
        // them; reading straight into a table keeps the last one silently).
        var syntax = SyntaxParser.Parse(toml, fileName, validate: true);
        if (syntax.HasErrors)
            throw new FormatException("not valid TOML: " + string.Join("; ", syntax.Diagnostics
                .Where(d => d.Kind == Tomlyn.Syntax.DiagnosticMessageKind.Error)
                .Select(d => $"line {d.Span.Start.Line + 1}, column {d.Span.Start.Column + 1}: {d.Message}")));
        try
        {
            return TomlSerializer.Deserialize<TomlTable>(toml) ?? new TomlTable();
        }
        catch (TomlException e)
        {
            throw new FormatException("not valid TOML: " + e.Message);
        }
    }
}

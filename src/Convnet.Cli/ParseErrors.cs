using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Convnet.Cli;

/// <summary>
/// Says what is wrong with a command line in the user's words: the option, what it needs and what
/// it got, never a .NET type name (System.CommandLine's own messages name them, e.g.
/// <c>System.Nullable`1[System.Int32]</c>). Also finds what System.CommandLine does not count as an
/// error: a mistyped option such as <c>--epoch</c>, which it would take as a positional argument.
/// </summary>
internal static class ParseErrors
{
    /// <summary>The first problem of <paramref name="parse"/> as one line, or null when there is none.</summary>
    public static string? Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        if (UnknownOption(parse) is var (unknown, at))
        {
            var final = Options(Chain(parse.CommandResult));
            if (at.Count < Chain(parse.CommandResult).Count && final.ContainsKey(unknown))
            {
                return $"option '{unknown}' belongs after '{command.Name}': {CommandPath(parse)} {unknown} ...";
            }
            string? guess = Closest(unknown, Options(at).Keys);
            string where = string.Join(' ', at.Select(c => c is RootCommand ? "convnet" : c.Name));
            return guess is null
                ? $"unknown option '{unknown}' for '{where}'"
                : $"unknown option '{unknown}'; did you mean '{guess}'?";
        }
        if (parse.Errors.Count == 0)
        {
            return null;
        }
        if (parse.UnmatchedTokens.Count > 0)
        {
            string token = parse.UnmatchedTokens[0];
            if (command is RootCommand)
            {
                string? guess = Closest(token, command.Subcommands.Select(c => c.Name));
                return guess is null
                    ? $"unknown command '{token}' (commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))})"
                    : $"unknown command '{token}'; did you mean '{guess}'?";
            }
            return $"unexpected argument '{token}' ({Usage(command)})";
        }
        var error = parse.Errors[0];
        return error.SymbolResult switch
        {
            OptionResult option => DescribeOption(option.Option, option.Tokens, error.Message),
            ArgumentResult argument => DescribeArgument(argument.Argument, argument.Tokens, command),
            CommandResult { Command: RootCommand root } when parse.Tokens.Count == 0 || command == root
                => $"a command is needed: {string.Join(", ", root.Subcommands.Select(c => c.Name))}",
            _ => Plain(error.Message),
        };
    }

    /// <summary>The hint that follows an error: where to read about the command.</summary>
    public static string HelpHint(ParseResult parse) => $"see '{CommandPath(parse)} --help'";

    /// <summary>"convnet train" for the command the line reached.</summary>
    public static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (SymbolResult? result = parse.CommandResult; result is not null; result = result.Parent)
        {
            if (result is CommandResult { Command: not RootCommand } c)
            {
                names.Add(c.Command.Name);
            }
        }
        names.Add("convnet");
        names.Reverse();
        return string.Join(' ', names);
    }

    private static string DescribeOption(Option option, IReadOnlyList<Token> tokens, string message)
    {
        string got = tokens.Count == 0 ? "nothing" : string.Join(' ', tokens.Select(t => $"'{t.Value}'"));
        if (tokens.Count > 1 && option.Arity.MaximumNumberOfValues == 1)
        {
            return $"option '{option.Name}' takes one value, got {got}";
        }
        if (tokens.Count > 0 && tokens.All(t => Converts(option.ValueType, t.Value)) && !message.Contains("System.", StringComparison.Ordinal))
        {
            // The value has the right type, so a validator refused it: its message says why.
            return $"option '{option.Name}': {Plain(message)}";
        }
        return $"option '{option.Name}' needs {Needs(option.ValueType, option.HelpName)}, got {got}";
    }

    /// <summary>Whether System.CommandLine can turn <paramref name="value"/> into a <paramref name="type"/> (invariant culture, as it does).</summary>
    private static bool Converts(Type type, string value)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        var c = CultureInfo.InvariantCulture;
        return t == typeof(int) ? int.TryParse(value, NumberStyles.Integer, c, out _)
            : t == typeof(long) ? long.TryParse(value, NumberStyles.Integer, c, out _)
            : t == typeof(ulong) ? ulong.TryParse(value, NumberStyles.Integer, c, out _)
            : t == typeof(float) ? float.TryParse(value, NumberStyles.Float, c, out _)
            : t == typeof(double) ? double.TryParse(value, NumberStyles.Float, c, out _)
            : t == typeof(bool) ? bool.TryParse(value, out _)
            : t == typeof(string);
    }

    private static string DescribeArgument(Argument argument, IReadOnlyList<Token> tokens, Command command)
    {
        int least = argument.Arity.MinimumNumberOfValues;
        if (tokens.Count < least)
        {
            string count = least == 1 ? "" : $" (at least {least}, got {tokens.Count})";
            return $"'{command.Name}' needs {argument.Name}{count}";
        }
        return $"{argument.Name} needs {Needs(argument.ValueType, null)}, got {string.Join(' ', tokens.Select(t => $"'{t.Value}'"))}";
    }

    /// <summary>What a value of <paramref name="type"/> looks like, in words.</summary>
    private static string Needs(Type type, string? helpName)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(ulong))
        {
            return $"a whole number from 0 to {ulong.MaxValue.ToString(CultureInfo.InvariantCulture)}";
        }
        if (t == typeof(int))
        {
            return $"a whole number (at most {int.MaxValue.ToString(CultureInfo.InvariantCulture)})";
        }
        if (t == typeof(long))
        {
            return "a whole number";
        }
        if (t == typeof(float) || t == typeof(double))
        {
            return "a number such as 0.5 or 1e-3";
        }
        if (t == typeof(bool))
        {
            return "true or false, or nothing";
        }
        return helpName is null ? "a value" : $"a value ({helpName})";
    }

    /// <summary>
    /// The first token that looks like an option (starts with '-' and is not a number) but is none
    /// of the options of the command it follows, nor the value of the option before it, with that
    /// command (as the chain from the root); null when there is none.
    /// </summary>
    private static (string Name, List<Command> At)? UnknownOption(ParseResult parse)
    {
        var chain = new List<Command> { parse.RootCommandResult.Command };
        var options = Options(chain);
        var tokens = parse.Tokens;
        for (int i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Type == TokenType.DoubleDash)
            {
                return null;
            }
            if (token.Type == TokenType.Command && chain[^1].Subcommands.FirstOrDefault(c => c.Name == token.Value || c.Aliases.Contains(token.Value)) is { } sub)
            {
                chain = [.. chain, sub];
                options = Options(chain);
                continue;
            }
            if (token.Type != TokenType.Argument && token.Type != TokenType.Option || !LooksLikeOption(token.Value))
            {
                continue;
            }
            string name = token.Value;
            int split = name.IndexOfAny(['=', ':']);
            if (split > 0 && options.ContainsKey(name[..split]))
            {
                continue;
            }
            bool valueOfPrevious = i > 0 && tokens[i - 1].Type == TokenType.Option
                && options.TryGetValue(tokens[i - 1].Value, out var previous)
                && previous.Arity.MaximumNumberOfValues > 0 && previous.ValueType != typeof(bool);
            if (!options.ContainsKey(name) && !valueOfPrevious)
            {
                return (split > 0 ? name[..split] : name, chain);
            }
        }
        return parse.UnmatchedTokens.FirstOrDefault(LooksLikeOption) is { } unmatched ? (unmatched, chain) : null;
    }

    private static bool LooksLikeOption(string value) => value.Length > 1 && value[0] == '-'
        && !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>The commands from the root to <paramref name="result"/>'s.</summary>
    private static List<Command> Chain(CommandResult result)
    {
        var chain = new List<Command>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                chain.Add(c.Command);
            }
        }
        chain.Reverse();
        return chain;
    }

    /// <summary>The options usable after the last command of <paramref name="chain"/> by every name and alias: its own and the recursive ones of the commands before it.</summary>
    private static Dictionary<string, Option> Options(List<Command> chain)
    {
        var options = new Dictionary<string, Option>(StringComparer.Ordinal);
        for (int k = chain.Count - 1; k >= 0; k--)
        {
            foreach (var option in chain[k].Options.Where(o => k == chain.Count - 1 || o.Recursive))
            {
                options.TryAdd(option.Name, option);
                foreach (var alias in option.Aliases)
                {
                    options.TryAdd(alias, option);
                }
            }
        }
        return options;
    }

    /// <summary>The candidate nearest to <paramref name="typed"/> when near enough to be a typo of it (or it a prefix of the candidate), else null.</summary>
    internal static string? Closest(string typed, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            int distance = Distance(typed, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        if (best is null)
        {
            return null;
        }
        string bare = typed.TrimStart('-');
        if (bare.Length < 3)
        {
            return null; // "-x": any one-letter alias is as near; guessing helps no one
        }
        if (bestDistance <= Math.Max(1, bare.Length / 3))
        {
            return best;
        }
        // "--batch" for "--batch-size": a prefix of a long name, if of exactly one.
        var prefixed = candidates.Where(c => c.TrimStart('-').StartsWith(bare, StringComparison.OrdinalIgnoreCase)).Distinct().ToList();
        return prefixed.Count == 1 ? prefixed[0] : null;
    }

    // Edit distance counting a swap of neighbours as one edit (optimal string alignment), ignoring case.
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = Same(a[i - 1], b[j - 1]) ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && Same(a[i - 1], b[j - 2]) && Same(a[i - 2], b[j - 1]))
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];

        static bool Same(char x, char y) => char.ToLowerInvariant(x) == char.ToLowerInvariant(y);
    }

    private static string Usage(Command command)
    {
        var arguments = command.Arguments.Where(a => !a.Hidden).Select(a => a.Name).ToList();
        return arguments.Count == 0
            ? $"'{command.Name}' takes no arguments, only options"
            : $"'{command.Name}' takes {string.Join(' ', arguments)} and options";
    }

    /// <summary>System.CommandLine's own message, as a last resort, without its full stop.</summary>
    private static string Plain(string message) => message.TrimEnd('.');
}

namespace Convnet.Tuning;

/// <summary>A search space that cannot be used, with the option it concerns and where in the text the problem is.</summary>
public sealed class SearchSpaceException : FormatException
{
    /// <param name="message">The problem, without the option's name (the message adds it).</param>
    /// <param name="key">The option (e.g. "lr"), or null when the problem is not with one option.</param>
    /// <param name="offset">0-based character offset of the offending token in the space's text (or in the option's value for a template), or -1.</param>
    public SearchSpaceException(string message, string? key, int offset = -1)
        : base(key is null ? message : $"\"{key}\": {message}")
    {
        (Problem, Key, Offset) = (message, key, offset);
    }

    /// <summary>The problem without the option's name.</summary>
    public string Problem { get; }

    /// <summary>The option the problem is with, or null.</summary>
    public string? Key { get; }

    /// <summary>0-based character offset of the offending token in the text parsed, or -1 when unknown.</summary>
    public int Offset { get; }
}

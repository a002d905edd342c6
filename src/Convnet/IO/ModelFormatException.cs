namespace Convnet.IO;

/// <summary>
/// The one exception thrown for a model file that is missing, truncated, corrupted or not in the
/// expected format. The message starts with the path as given, then says what is wrong.
/// </summary>
public sealed class ModelFormatException : Exception
{
    /// <summary>Creates the exception; its message is "<paramref name="filePath"/>: <paramref name="reason"/>".</summary>
    public ModelFormatException(string filePath, string reason, Exception? innerException = null)
        : base($"{filePath}: {reason}", innerException)
    {
        FilePath = filePath;
        Reason = reason;
    }

    /// <summary>The path of the model file, as the caller gave it.</summary>
    public string FilePath { get; }

    /// <summary>The message without the path.</summary>
    public string Reason { get; }
}

namespace Convnet.Cli;

/// <summary>A problem the user can fix (a bad option, a missing file); printed without a stack trace.</summary>
public sealed class UserError(string message) : Exception(message);

namespace Convnet.Serve;

/// <summary>
/// A request the server refuses: answered with <see cref="Status"/> and <c>{"error": Message}</c>
/// (and a Retry-After header when <see cref="RetryAfterSeconds"/> is set).
/// </summary>
internal sealed class ApiError(int status, string message, int? retryAfterSeconds = null) : Exception(message)
{
    public int Status { get; } = status;

    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    public static ApiError BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);

    public static ApiError TooLarge(string message) => new(StatusCodes.Status413PayloadTooLarge, message);
}

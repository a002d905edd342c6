using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Convnet.Tensors;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Convnet.Serve;

/// <summary>
/// One image of a request: an encoded picture (PNG, JPEG, ... as sent) or pixels of the model's
/// input given as JSON (0-255, [H, W, C] order). <see cref="Name"/> names it in errors.
/// </summary>
internal sealed record RequestImage(string Name, ReadOnlyMemory<byte> Encoded, float[]? Pixels);

/// <summary>
/// Reads the images of a predict request from its body: a picture (Content-Type image/* or
/// application/octet-stream), multipart/form-data with file parts, or JSON pixels
/// (<c>{"pixels": [...]}</c>; for a batch <c>{"images": [[...], ...]}</c>). Every problem is an
/// <see cref="ApiError"/> naming the image and what was expected.
/// </summary>
internal static class RequestImages
{
    public const string Accepted = "image/png, image/jpeg (or another image/*), multipart/form-data with file parts, or application/json";

    /// <summary>The body, at most <paramref name="maxBytes"/> (413 when it is longer: it is not read further).</summary>
    public static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, long maxBytes, CancellationToken cancellation)
    {
        if (request.ContentLength > maxBytes)
        {
            throw BodyTooLarge(request.ContentLength.Value, maxBytes);
        }
        int initial = (int)Math.Min(request.ContentLength ?? 16 * 1024, maxBytes);
        var body = new MemoryStream(initial);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(buffer, cancellation).ConfigureAwait(false)) > 0)
            {
                if (body.Length + read > maxBytes)
                {
                    throw BodyTooLarge(null, maxBytes);
                }
                body.Write(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return body.GetBuffer().AsMemory(0, (int)body.Length);
    }

    public static ApiError BodyTooLarge(long? length, long maxBytes) => ApiError.TooLarge(length is long n
        ? $"the body is {n:N0} bytes, more than the {maxBytes:N0} accepted (--max-body)"
        : $"the body is more than the {maxBytes:N0} bytes accepted (--max-body)");

    /// <summary>The images of the body, by its Content-Type; at most <paramref name="maxImages"/>, exactly one unless <paramref name="batch"/>.</summary>
    public static async Task<List<RequestImage>> ReadAsync(HttpRequest request, bool batch, Shape input, int maxImages, long maxBodyBytes, CancellationToken cancellation)
    {
        string? contentType = request.ContentType;
        if (string.IsNullOrWhiteSpace(contentType) || !MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType.Value is not { } type)
        {
            throw Unsupported(contentType, batch);
        }
        var body = await ReadBodyAsync(request, maxBodyBytes, cancellation).ConfigureAwait(false);
        List<RequestImage> images;
        if (type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase))
        {
            images = FromJson(body, batch, input, maxImages);
        }
        else if (type.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            images = await FromMultipartAsync(media, body, maxImages, cancellation).ConfigureAwait(false);
        }
        else if (!batch && (type.StartsWith("image/", StringComparison.OrdinalIgnoreCase) || type.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase)))
        {
            images = [new RequestImage("image", body, null)];
        }
        else
        {
            throw Unsupported(contentType, batch);
        }
        if (images.Count == 0)
        {
            throw ApiError.BadRequest(batch ? "the batch holds no images" : "the request holds no image");
        }
        if (!batch && images.Count > 1)
        {
            throw ApiError.BadRequest($"expected one image, got {images.Count}; send several to /v1/predict/batch");
        }
        return images;
    }

    private static ApiError Unsupported(string? contentType, bool batch) => new(
        StatusCodes.Status415UnsupportedMediaType,
        (string.IsNullOrWhiteSpace(contentType) ? "the request has no Content-Type" : $"Content-Type '{contentType}' is not accepted")
        + (batch
            ? "; a batch is multipart/form-data with one file part per image, or application/json {\"images\": [[pixels...], ...]}"
            : "; send " + Accepted + " {\"pixels\": [...]}"));

    private static ApiError TooMany(int count, int maxImages) =>
        ApiError.BadRequest($"too many images: {count:N0}, at most {maxImages:N0} in one request (--max-batch)");

    private static async Task<List<RequestImage>> FromMultipartAsync(MediaTypeHeaderValue media, ReadOnlyMemory<byte> body, int maxImages, CancellationToken cancellation)
    {
        string boundary = HeaderUtilities.RemoveQuotes(media.Boundary).Value ?? "";
        if (boundary.Length == 0)
        {
            throw ApiError.BadRequest("multipart/form-data without a boundary in its Content-Type");
        }
        var images = new List<RequestImage>();
        var stream = MemoryMarshal.TryGetArray(body, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(body.ToArray(), writable: false);
        var reader = new MultipartReader(boundary, stream);
        try
        {
            while (await reader.ReadNextSectionAsync(cancellation).ConfigureAwait(false) is { } section)
            {
                ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition);
                string? file = disposition is null ? null : HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                bool isImage = !string.IsNullOrEmpty(file) || (section.ContentType?.StartsWith("image/", StringComparison.OrdinalIgnoreCase) ?? false);
                if (!isImage)
                {
                    continue;
                }
                if (images.Count == maxImages)
                {
                    throw TooMany(images.Count + 1 + await CountRemainingAsync(reader, cancellation).ConfigureAwait(false), maxImages);
                }
                var bytes = new MemoryStream();
                await section.Body.CopyToAsync(bytes, cancellation).ConfigureAwait(false);
                string name = string.IsNullOrEmpty(file) ? $"image {images.Count}" : $"image {images.Count} ('{file}')";
                images.Add(new RequestImage(name, bytes.GetBuffer().AsMemory(0, (int)bytes.Length), null));
            }
        }
        catch (IOException e)
        {
            throw ApiError.BadRequest($"malformed multipart/form-data body: {e.Message}");
        }
        if (images.Count == 0)
        {
            throw ApiError.BadRequest("the multipart/form-data body holds no file part; send each picture as a file field (curl -F image=@digit.png)");
        }
        return images;
    }

    private static async Task<int> CountRemainingAsync(MultipartReader reader, CancellationToken cancellation)
    {
        int count = 0;
        while (await reader.ReadNextSectionAsync(cancellation).ConfigureAwait(false) is not null)
        {
            count++;
        }
        return count;
    }

    private static List<RequestImage> FromJson(ReadOnlyMemory<byte> body, bool batch, Shape input, int maxImages)
    {
        var reader = new Utf8JsonReader(body.Span, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 16 });
        try
        {
            var images = new List<RequestImage>();
            Read(ref reader);
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw ApiError.BadRequest(batch
                    ? $"expected a JSON object {{\"images\": [...]}}, got {Describe(reader.TokenType)}"
                    : $"expected a JSON object {{\"pixels\": [...]}}, got {Describe(reader.TokenType)}");
            }
            string expected = batch ? "images" : "pixels";
            bool found = false;
            while (true)
            {
                Read(ref reader);
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }
                string property = reader.GetString()!;
                if (property != expected)
                {
                    throw ApiError.BadRequest($"unknown property '{property}'; expected only '{expected}'");
                }
                if (found)
                {
                    throw ApiError.BadRequest($"'{expected}' is given twice");
                }
                found = true;
                Read(ref reader);
                if (!batch)
                {
                    images.Add(new RequestImage("pixels", default, ReadPixels(ref reader, input, "pixels")));
                    continue;
                }
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    throw ApiError.BadRequest($"images: expected an array of images, got {Describe(reader.TokenType)}");
                }
                while (true)
                {
                    Read(ref reader);
                    if (reader.TokenType == JsonTokenType.EndArray)
                    {
                        break;
                    }
                    if (images.Count == maxImages)
                    {
                        int more = 1;
                        reader.Skip();
                        while (Read(ref reader) && reader.TokenType != JsonTokenType.EndArray)
                        {
                            reader.Skip();
                            more++;
                        }
                        throw TooMany(images.Count + more, maxImages);
                    }
                    string name = $"images[{images.Count}]";
                    images.Add(new RequestImage(name, default, ReadPixels(ref reader, input, name)));
                }
            }
            if (!found)
            {
                throw ApiError.BadRequest($"the JSON object has no '{expected}'");
            }
            if (reader.Read())
            {
                throw ApiError.BadRequest($"unexpected {Describe(reader.TokenType)} after the JSON object, at byte {reader.TokenStartIndex + 1}");
            }
            return images;
        }
        catch (JsonException e)
        {
            throw ApiError.BadRequest($"malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {WithoutPosition(e.Message)}");
        }
    }

    /// <summary>Moves to the next token; a body that ends before the JSON does is malformed.</summary>
    private static bool Read(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw ApiError.BadRequest($"malformed JSON: the body ends at byte {reader.BytesConsumed + 1} before the JSON is complete");
        }
        return true;
    }

    /// <summary>
    /// The reader is on the value of the pixels: a flat array of H·W·C numbers 0-255, rows
    /// [H][W] (one channel), or [H][W][C].
    /// </summary>
    private static float[] ReadPixels(ref Utf8JsonReader reader, Shape input, string name)
    {
        string layouts = input.Channels == 1
            ? $"{input.Size} numbers 0-255 ({Dims(input)}), flat or as {input.Height} rows of {input.Width}"
            : $"{input.Size} numbers 0-255 ({Dims(input)}), flat or as [{input.Height}][{input.Width}][{input.Channels}]";
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw ApiError.BadRequest($"{name}: expected an array of {layouts}, got {Describe(reader.TokenType)}");
        }
        int depth = 1;
        var probe = reader;
        while (probe.Read() && probe.TokenType == JsonTokenType.StartArray)
        {
            depth++;
        }
        int[] dims = depth switch
        {
            1 => [input.Size],
            2 when input.Channels == 1 => [input.Height, input.Width],
            3 => [input.Height, input.Width, input.Channels],
            _ => throw ApiError.BadRequest($"{name}: arrays nested {depth} deep; expected {layouts}"),
        };
        var pixels = new float[input.Size];
        int filled = 0;
        ReadLevel(ref reader, dims, 0, name, pixels, ref filled, layouts);
        return pixels;
    }

    private static void ReadLevel(ref Utf8JsonReader reader, int[] dims, int level, string path, float[] pixels, ref int filled, string layouts)
    {
        int count = 0;
        bool last = level == dims.Length - 1;
        while (true)
        {
            Read(ref reader);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                break;
            }
            string at = $"{path}[{count}]";
            if (count >= dims[level])
            {
                count++;
                reader.Skip();
                continue;
            }
            if (last)
            {
                if (reader.TokenType != JsonTokenType.Number)
                {
                    throw ApiError.BadRequest($"{at}: expected a number 0-255, got {Describe(reader.TokenType)}");
                }
                double value = reader.GetDouble();
                if (!(value >= 0 && value <= 255))
                {
                    throw ApiError.BadRequest($"{at}: {value.ToString(CultureInfo.InvariantCulture)} is outside 0-255");
                }
                pixels[filled++] = (float)value;
            }
            else
            {
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    throw ApiError.BadRequest($"{at}: expected an array of {dims[level + 1]}, got {Describe(reader.TokenType)}");
                }
                ReadLevel(ref reader, dims, level + 1, at, pixels, ref filled, layouts);
            }
            count++;
        }
        if (count != dims[level])
        {
            throw ApiError.BadRequest(level > 0 ? $"{path}: expected {dims[level]} values, got {count:N0}"
                : dims.Length == 1 ? $"{path}: expected {layouts}, got {count:N0} numbers"
                : $"{path}: expected {dims[0]} rows of {string.Join("×", dims.Skip(1))} values, got {count:N0} rows");
        }
    }

    private static string Dims(Shape input) => $"{input.Height}×{input.Width}×{input.Channels}";

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => "something else",
    };

    /// <summary>The reader's message without its trailing " LineNumber: 0 | BytePositionInLine: 7." (given in our words).</summary>
    private static string WithoutPosition(string message)
    {
        int at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return at < 0 ? message : message[..at];
    }
}

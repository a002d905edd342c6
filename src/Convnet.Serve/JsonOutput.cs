using System.Text.Encodings.Web;
using System.Text.Json;

namespace Convnet.Serve;

/// <summary>How the server writes JSON: class names, '×' and quotes as they are (not \u00D7), since answers are never embedded in HTML.</summary>
internal static class JsonOutput
{
    public static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}

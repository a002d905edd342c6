using System.Globalization;
using System.Text;
using Convnet.Data;
using Convnet.IO;

namespace Convnet.Cli;

/// <summary>
/// <c>predict</c>'s table for images: <c>file,label,probability</c>, then
/// <c>label2,probability2</c> ... up to the K-th most probable class, one row per image.
/// </summary>
/// <remarks>
/// Probabilities are written with six fixed decimals (<c>0.987654</c>, <c>0.000123</c>): fixed
/// point never switches to an exponent, so every CSV reader and spreadsheet takes the column as a
/// number and it sorts as text too; six decimals keep a millionth, below which a float32 softmax
/// (about seven significant digits near 1) no longer tells classes apart anyway.
/// </remarks>
internal static class PredictionsCsv
{
    public const string ProbabilityFormat = "F6";

    /// <summary>The header for <paramref name="top"/> classes per row.</summary>
    public static string Header(int top)
    {
        var sb = new StringBuilder("file,label,probability");
        for (int k = 2; k <= top; k++)
        {
            sb.Append(CultureInfo.InvariantCulture, $",label{k},probability{k}");
        }
        return sb.ToString();
    }

    /// <summary>
    /// The whole table as text. files[i] names the image of probability row i;
    /// probabilities: [files.Count, classes].
    /// </summary>
    public static string Format(IReadOnlyList<string> files, ReadOnlySpan<float> probabilities, int classes, Func<int, string> className, int top)
    {
        if (probabilities.Length != files.Count * classes)
        {
            throw new ArgumentException($"{files.Count} files need {files.Count * classes} probabilities, got {probabilities.Length}", nameof(probabilities));
        }
        var sb = new StringBuilder(Header(top)).Append('\n');
        Span<int> order = stackalloc int[top];
        for (int i = 0; i < files.Count; i++)
        {
            var row = probabilities.Slice(i * classes, classes);
            TopClasses(row, order);
            sb.Append(Field(files[i]));
            foreach (int c in order)
            {
                sb.Append(',').Append(Field(className(c))).Append(',').Append(Probability(row[c]));
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Writes <see cref="Format"/> to <paramref name="path"/> atomically: an error leaves the file as it was.</summary>
    public static void Write(string path, IReadOnlyList<string> files, ReadOnlySpan<float> probabilities, int classes, Func<int, string> className, int top) =>
        AtomicFile.WriteAllText(path, Format(files, probabilities, classes, className, top));

    public static string Probability(float p) => p.ToString(ProbabilityFormat, CultureInfo.InvariantCulture);

    /// <summary>
    /// The <c>order.Length</c> most probable classes, most probable first; equal probabilities by
    /// class number, so the first is always <see cref="Models.Classifier.ArgMax"/>.
    /// </summary>
    public static void TopClasses(ReadOnlySpan<float> probabilities, Span<int> order)
    {
        if (order.Length > probabilities.Length)
        {
            throw new ArgumentException($"cannot take the top {order.Length} of {probabilities.Length} classes", nameof(order));
        }
        int filled = 0;
        for (int c = 0; c < probabilities.Length; c++)
        {
            // Insertion into the kept few: K is small (at most the classes, usually 1-5).
            int at = filled;
            while (at > 0 && probabilities[c] > probabilities[order[at - 1]])
            {
                at--;
            }
            if (at >= order.Length)
            {
                continue;
            }
            int last = Math.Min(filled, order.Length - 1);
            for (int j = last; j > at; j--)
            {
                order[j] = order[j - 1];
            }
            order[at] = c;
            filled = Math.Min(filled + 1, order.Length);
        }
    }

    /// <summary>A CSV field (RFC 4180), as the library writes class names.</summary>
    public static string Field(string text) => KaggleCsv.Field(text);
}

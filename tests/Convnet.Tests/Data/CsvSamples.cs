using System.Text;
using Convnet.Data;

namespace Convnet.Tests.Data;

/// <summary>Small Kaggle-format datasets and their CSV text, built independently of the writers.</summary>
internal static class CsvSamples
{
    public const int Pixels = 784;

    public static string LabelledHeader { get; } = "label," + UnlabelledHeader;
    public static string UnlabelledHeader => string.Join(',', Enumerable.Range(0, Pixels).Select(i => $"pixel{i}"));

    public static Dataset RandomDataset(int count, int seed, bool labelled = true)
    {
        var random = new Random(seed);
        var pixels = new byte[count * Pixels];
        for (int i = 0; i < pixels.Length; i++)
        {
            // Mostly background, as in MNIST, with the extremes 0 and 255 well represented.
            int r = random.Next(10);
            pixels[i] = r < 6 ? (byte)0 : r == 6 ? (byte)255 : (byte)random.Next(256);
        }
        byte[]? labels = labelled ? [.. Enumerable.Range(0, count).Select(_ => (byte)random.Next(10))] : null;
        return new Dataset(pixels, labels, KaggleCsv.ImageShape);
    }

    /// <summary>The rows of <paramref name="data"/> as lists of field strings, label first when labelled.</summary>
    public static List<List<string>> Rows(Dataset data, bool labelled)
    {
        var rows = new List<List<string>>();
        for (int r = 0; r < data.Count; r++)
        {
            var fields = new List<string>();
            if (labelled)
            {
                fields.Add(data.Label(r).ToString());
            }
            foreach (byte b in data.Image(r))
            {
                fields.Add(b.ToString());
            }
            rows.Add(fields);
        }
        return rows;
    }

    public static string Text(string header, IEnumerable<IEnumerable<string>> rows, string newline = "\n", bool finalNewline = true)
    {
        var sb = new StringBuilder(header);
        foreach (var row in rows)
        {
            sb.Append(newline).Append(string.Join(',', row));
        }
        if (finalNewline)
        {
            sb.Append(newline);
        }
        return sb.ToString();
    }

    /// <summary>Labelled CSV of <paramref name="count"/> rows; <paramref name="edit"/> may change the rows (row 0 is line 2).</summary>
    public static string Labelled(int count = 3, int seed = 1, Action<List<List<string>>>? edit = null)
    {
        var rows = Rows(RandomDataset(count, seed), labelled: true);
        edit?.Invoke(rows);
        return Text(LabelledHeader, rows);
    }

    public static string Unlabelled(int count = 3, int seed = 1)
    {
        var rows = Rows(RandomDataset(count, seed, labelled: false), labelled: false);
        return Text(UnlabelledHeader, rows);
    }
}

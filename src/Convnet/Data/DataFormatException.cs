using System.Text;

namespace Convnet.Data;

/// <summary>
/// The one exception for a data file that is missing, unreadable or malformed. The message
/// names the file and, where they apply, the 1-based line and column, e.g.
/// <c>data/train.csv: line 17, column 302 (pixel300): '256' is out of range 0-255</c>.
/// </summary>
public sealed class DataFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="filePath"/>; line and column are 1-based, 0 where they do not apply.</summary>
    public DataFormatException(string filePath, string problem, int line = 0, int column = 0, string? columnName = null, Exception? innerException = null)
        : base(Format(filePath, problem, line, column, columnName), innerException)
    {
        FilePath = filePath;
        Problem = problem;
        Line = line;
        Column = column;
        ColumnName = columnName;
    }

    /// <summary>The path of the data file, as the caller gave it.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; }

    /// <summary>1-based; 0 when the problem is not on one line.</summary>
    public int Line { get; }

    /// <summary>1-based; 0 when the problem is not in one column.</summary>
    public int Column { get; }

    /// <summary>The CSV header name of <see cref="Column"/> (e.g. "pixel300"), or null.</summary>
    public string? ColumnName { get; }

    private static string Format(string filePath, string problem, int line, int column, string? columnName)
    {
        var sb = new StringBuilder(filePath);
        if (line > 0)
        {
            sb.Append(": line ").Append(line);
        }
        if (column > 0)
        {
            sb.Append(line > 0 ? ", column " : ": column ").Append(column);
            if (columnName is not null)
            {
                sb.Append(" (").Append(columnName).Append(')');
            }
        }
        return sb.Append(": ").Append(problem).ToString();
    }
}

import { ScrollArea, Table } from "@mantine/core";
import { createColumnHelper, flexRender, getCoreRowModel, useReactTable } from "@tanstack/react-table";
import { useMemo } from "react";
import type { QueryResult } from "../../api/client";

type Row = unknown[];
const columnHelper = createColumnHelper<Row>();

function show(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function ResultGrid({ result, testId = "results" }: { result: QueryResult; testId?: string }) {
  const columns = useMemo(
    () => result.columns.map((name, index) => columnHelper.accessor((row) => row[index], { id: `${index}`, header: name, cell: (c) => show(c.getValue()) })),
    [result],
  );
  const table = useReactTable({ data: result.rows, columns, getCoreRowModel: getCoreRowModel() });
  return (
    <ScrollArea h={360} type="auto" viewportProps={{ tabIndex: 0 }}>
      <Table striped withTableBorder stickyHeader data-testid={testId}>
        <Table.Thead>
          {table.getHeaderGroups().map((group) => (
            <Table.Tr key={group.id}>
              {group.headers.map((header) => (
                <Table.Th key={header.id}>{flexRender(header.column.columnDef.header, header.getContext())}</Table.Th>
              ))}
            </Table.Tr>
          ))}
        </Table.Thead>
        <Table.Tbody>
          {table.getRowModel().rows.map((row) => (
            <Table.Tr key={row.id}>
              {row.getVisibleCells().map((c) => (
                <Table.Td key={c.id} ff="monospace" fz="xs">{flexRender(c.column.columnDef.cell, c.getContext())}</Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollArea>
  );
}

//! `#[derive(FromRow)]` for `isp_core::db::FromRow`: a struct read from a result row by
//! column name, each field decoded with `isp_core::db::Decode`.
//!
//! Field attributes: `#[row(flatten)]` reads the field as a nested `FromRow` from the same
//! row (its columns follow the struct's own); `#[row(default)]` takes `Default::default()`
//! when the statement has no column of that name.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Fields};

/// Implements `isp_core::db::FromRow` for a struct with named fields.
#[proc_macro_derive(FromRow, attributes(row))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

enum Kind {
    Plain,
    Flatten,
    Default,
}

fn kind(field: &syn::Field) -> syn::Result<Kind> {
    let mut kind = Kind::Plain;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("row")) {
        attr.parse_nested_meta(|m| {
            if m.path.is_ident("flatten") {
                kind = Kind::Flatten;
                Ok(())
            } else if m.path.is_ident("default") {
                kind = Kind::Default;
                Ok(())
            } else {
                Err(m.error("expected `flatten` or `default`"))
            }
        })?;
    }
    Ok(kind)
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(input, "FromRow is derived for structs only"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(input, "FromRow needs named fields"));
    };
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut columns = Vec::new();
    let mut inits = Vec::new();
    for f in &fields.named {
        let ident = f.ident.as_ref().expect("named field");
        let ty = &f.ty;
        let col = ident.to_string();
        match kind(f)? {
            Kind::Plain => {
                columns.push(quote! { cols.push(::isp_core::db::Column::required(#col)); });
                inits.push(quote! { #ident: ::isp_core::db::Decode::decode_at(row, cols.required(#col)?, #col)? });
            }
            Kind::Default => {
                columns.push(quote! { cols.push(::isp_core::db::Column::optional(#col)); });
                inits.push(quote! {
                    #ident: match cols.optional() {
                        Some(i) => ::isp_core::db::Decode::decode_at(row, i, #col)?,
                        None => ::core::default::Default::default(),
                    }
                });
            }
            Kind::Flatten => {
                columns.push(quote! {
                    cols.extend(<#ty as ::isp_core::db::FromRow>::columns().into_iter().flatten().copied());
                });
                inits.push(quote! { #ident: <#ty as ::isp_core::db::FromRow>::from_row(row, cols)? });
            }
        }
    }
    Ok(quote! {
        impl #impl_generics ::isp_core::db::FromRow for #name #ty_generics #where_clause {
            fn columns() -> ::core::option::Option<&'static [::isp_core::db::Column]> {
                static COLUMNS: ::std::sync::OnceLock<::std::vec::Vec<::isp_core::db::Column>> =
                    ::std::sync::OnceLock::new();
                ::core::option::Option::Some(COLUMNS.get_or_init(|| {
                    let mut cols = ::std::vec::Vec::new();
                    #(#columns)*
                    cols
                }))
            }

            fn from_row(
                row: &dyn ::isp_core::db::Row,
                cols: &mut ::isp_core::db::Columns<'_>,
            ) -> ::core::result::Result<Self, ::isp_core::db::DecodeError> {
                ::core::result::Result::Ok(Self { #(#inits),* })
            }
        }
    })
}
